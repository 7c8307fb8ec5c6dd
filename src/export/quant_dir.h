#pragma once
// Reading what `loaq quantize` wrote (pipeline/output.h) for export, defensively: the directory
// must be a loaq quantization output, every setting, tensor and metadata key must be one this
// reader knows, and the integer state must reproduce the dequantized weights exactly. Whatever is
// not recognised (a feature added after this reader, e.g. an online Hadamard transform, activation
// quantization or a low-rank branch) is refused, never ignored.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/lowrank_branch.h"
#include "io/checkpoint.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "io/safetensors_set.h"
#include "quant/grid.h"

namespace loaq {

// The quant_state.safetensors metadata that describes the grid.
struct QuantStateMeta {
  int bits = 0;
  int64_t group_size = -1;  // -1: one scale per output channel
  bool sym = false;
  bool real_zero = false;
  std::string grid;  // GridConfig::describe()
};

// One quantized linear, in the original column order, with its codes made unsigned: a signed
// grid (codes in [−2^(b−1), 2^(b−1)−1], zero 0) is shifted by 2^(b−1) in both code and zero,
// which leaves scale · (code − zero) unchanged.
struct LinearState {
  std::string name;  // "model.layers.0.self_attn.q_proj"
  int64_t out = 0, in = 0, groups = 0;
  std::vector<uint32_t> codes;  // [out, in], in [0, 2^bits)
  std::vector<float> scale;     // [out, groups]
  std::vector<float> zero;      // [out, groups], integral after the shift unless real_zero
  std::vector<int32_t> g_idx;   // [in]: the group (index into scale's columns) of each input
};

class QuantDir {
 public:
  // Opens and checks `dir`: config.json, report.json, model.safetensors written by loaq (or its
  // shards with model.safetensors.index.json, io/safetensors_set.h), the report's settings all
  // known, every tensor name one of the architecture's, and, if present, quant_state.safetensors
  // (or its shards) with known metadata, the same in every shard, and exactly {codes, scale,
  // zero, g_idx, perm} per linear. Throws loaq::Error naming the file and field otherwise.
  explicit QuantDir(std::string dir);

  const std::string& dir() const { return dir_; }
  const nlohmann::ordered_json& config_json() const { return config_json_; }
  const ModelConfig& config() const { return config_; }
  const nlohmann::ordered_json& report() const { return report_; }
  // model.safetensors or its shards: what the directory stores (without the linears a
  // weights_in_quant_state directory keeps only as integer state).
  const SafetensorsSet& model() const { return *model_; }
  // Every weight of the dequantized model, as a checkpoint: model.safetensors' tensors and the
  // linears dequantized from their integer state (io/checkpoint.h). What the exporters read.
  const Checkpoint& weights() const { return *weights_; }
  bool has_quant_state() const { return state_.has_value(); }
  // quant_state.safetensors or its shards (has_quant_state() only).
  const SafetensorsSet& state() const { return *state_; }
  const QuantStateMeta& meta() const { return meta_; }
  // The block fit of a --grid gguf:TYPE run (settings.grid.gguf_fit; unweighted for a run that
  // predates the field, or another grid).
  GgufFit gguf_fit() const;
  // The quantized linears named in quant_state, in name order (empty without quant_state).
  const std::vector<std::string>& linears() const { return linears_; }

  // Reads and checks one linear: shapes, codes in the grid's range, g_idx in range, perm a
  // permutation, and the model's weight (when model.safetensors holds it) equal to
  // scale · (code − zero) element for element.
  LinearState load_linear(const std::string& name) const;

  // The linears that carry a low-rank branch (io/lowrank_state.h), in name order.
  const std::vector<std::string>& lowrank_linears() const { return lowrank_; }
  bool has_lowrank() const { return !lowrank_.empty(); }
  // Reads and checks one branch (shapes against the linear's weight, codes, scales).
  LowRankBranch load_lowrank(const std::string& name) const;

 private:
  std::string dir_;
  nlohmann::ordered_json config_json_, report_;
  ModelConfig config_;
  std::optional<SafetensorsSet> model_, state_;
  std::optional<Checkpoint> weights_;
  QuantStateMeta meta_;
  std::vector<std::string> linears_, lowrank_;
};

// Copies the tokenizer and generation files a Hugging Face directory may hold from `src` to `dst`.
void copy_tokenizer_files(const std::string& src, const std::string& dst);

// The tensor names a checkpoint of this configuration may hold (weights and biases of every
// linear, norms, embeddings, head), sorted.
std::vector<std::string> known_tensor_names(const ModelConfig& c);

}  // namespace loaq
