#pragma once
// `loaq inspect`: what a checkpoint directory holds and whether every file in it is sound. Works
// on any directory loaq can read: a Hugging Face checkpoint (single or sharded safetensors), a
// `loaq quantize` output, and GPTQ checkpoints (ours or AutoGPTQ / GPTQModel's).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace loaq {

struct InspectOptions {
  bool read_data = true;  // read every tensor (finite check); false: headers and shapes only
};

struct InspectResult {
  // kind, architecture, parameters, tensors_by_dtype, quantization, disk_bytes, files (each with
  // its status), as JSON.
  nlohmann::ordered_json info;
  std::vector<std::string> problems;  // empty when every check passed
};

// Never throws for a bad file inside `dir` (that becomes a problem); throws loaq::Error only when
// `dir` is not a directory.
InspectResult inspect_checkpoint(const std::string& dir, const InspectOptions& opt = {});

// The human-readable summary printed by `loaq inspect`.
std::string format_inspect(const InspectResult& r);

}  // namespace loaq
