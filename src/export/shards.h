#pragma once
// Writing a Hugging Face set of safetensors files: one model.safetensors, or, when the tensors
// exceed the shard size, model-0000i-of-0000n.safetensors plus model.safetensors.index.json
// ({"metadata": {"total_size"}, "weight_map"}), split as transformers' save_pretrained splits
// (tensors in order, a new shard when the next tensor would pass the limit; a tensor larger than
// the limit gets a shard of its own). Each shard's tensors are produced only when that shard is
// written, so memory holds one shard at a time.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace loaq {

// transformers' default max_shard_size ("5GB").
inline constexpr uint64_t kDefaultShardBytes = 5'000'000'000ull;

struct PlannedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::function<std::vector<std::byte>()> make;  // the numel × dtype-size bytes
};

// Writes the tensors into `dir`; returns the file names written (shards, then the index if any).
std::vector<std::string> write_sharded(const std::string& dir,
                                       const std::vector<PlannedTensor>& tensors,
                                       uint64_t max_shard_bytes,
                                       const std::map<std::string, std::string>& metadata);

// Parses "5GB", "500MB", "2000000" (bytes; KB/MB/GB are powers of 1000 and KiB/MiB/GiB of 1024,
// as transformers reads max_shard_size).
uint64_t parse_size(const std::string& s);

}  // namespace loaq
