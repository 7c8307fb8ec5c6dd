#pragma once
// A Hugging Face checkpoint with a real model's config.json and random weights: the tensors of the
// model in state-dict order, sharded as huggingface_hub's split_torch_state_dict_into_shards does,
// each shard streamed to disk in pieces (memory holds one piece, never a tensor), the tokenizer
// files copied beside them. Weights are N(0, 0.02²) (transformers' initializer_range) for every
// linear and the embedding, 1 for norms, 0 for biases, each element a function of (seed, tensor
// name, element index) only, so the bytes do not depend on threads or piece size.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "io/model_config.h"
#include "io/safetensors.h"

namespace loaq::bench {

// transformers' default max_shard_size ("5GB").
inline constexpr uint64_t kHubShardBytes = 5'000'000'000ull;

enum class Init { kNormal, kOnes, kZeros };

struct HfTensor {
  TensorSpec spec;
  Init init;
};

// The model's tensors in the order transformers' state_dict lists them.
std::vector<HfTensor> hf_tensors(const ModelConfig& c, DType dtype);

// Shards as huggingface_hub splits a state dict: in order, a new shard when the next tensor would
// pass `max_bytes`; a tensor larger than `max_bytes` alone in a shard of its own.
std::vector<std::vector<size_t>> plan_shards(const std::vector<HfTensor>& tensors,
                                             uint64_t max_bytes);

// Element `first + i` of tensor `name`, for i < out.size(), as floats (before rounding to dtype).
void random_values(uint64_t seed, const std::string& name, Init init, uint64_t first,
                   std::span<float> out);

struct RandomCheckpointOptions {
  nlohmann::ordered_json config;  // the preset's config.json, before overrides
  std::vector<std::pair<std::string, nlohmann::json>> set;  // config overrides, applied in order
  int64_t layers = 0;                                       // > 0: num_hidden_layers
  uint64_t seed = 0;
  DType dtype = DType::BF16;
  uint64_t shard_bytes = kHubShardBytes;
  std::string tokenizer_dir;  // "": no tokenizer files
  std::string out;
  bool force = false;
  bool progress = true;  // a line per shard on stderr
};

struct RandomCheckpointResult {
  ModelConfig config;
  uint64_t params = 0, total_bytes = 0;
  std::vector<std::string> files;  // written into `out`
};

// The config.json that will be written: the preset with overrides, layers and torch_dtype; it is
// validated by loaq's parser (errors name "--set" / the key).
nlohmann::ordered_json checkpoint_config(const RandomCheckpointOptions& o);

// Writes the checkpoint into `out` atomically (a temporary directory beside it, renamed at the
// end); an existing `out` is refused unless `force`.
RandomCheckpointResult write_random_checkpoint(const RandomCheckpointOptions& o);

}  // namespace loaq::bench
