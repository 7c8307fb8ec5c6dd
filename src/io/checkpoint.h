#pragma once
// A Hugging Face checkpoint directory: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json (io/safetensors_set.h). All files are opened (and validated) up
// front; tensors are read lazily by name. With config.json's loaq.weights_in_quant_state, the
// weight of a quantized linear that model.safetensors omits is dequantized at load from its
// integer state in quant_state.safetensors (io/quant_state.h): to every reader below it is a
// tensor like the others (F32, [out, in]).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "io/safetensors.h"
#include "io/safetensors_set.h"

namespace loaq {

class Checkpoint {
 public:
  // Throws loaq::Error naming the file when config, index or a shard is missing or invalid.
  explicit Checkpoint(std::string dir);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  bool has(const std::string& name) const {
    return model_->find(name) != nullptr || from_state_.count(name) != 0;
  }
  const TensorInfo& info(const std::string& name) const;
  // The tensor converted to fp32 (a linear stored as integer state: dequantized); error naming the
  // file and tensor if missing or non-finite.
  Tensor load_f32(const std::string& name) const;
  // Like load_f32 but also checks the shape (error names the tensor, both shapes and config.json).
  Tensor load_f32(const std::string& name, const std::vector<int64_t>& expect_shape) const;
  // Every tensor's name, in name order.
  std::vector<std::string> tensor_names() const;
  // The file holding a tensor (a linear stored as integer state: the file of its codes); error
  // naming the directory when it is absent.
  const SafetensorsFile& file_of(const std::string& name) const;
  // Drops the tensor's mapped pages from the resident set (SafetensorsFile::release).
  void release(const std::string& name) const;
  const std::vector<SafetensorsFile>& files() const { return model_->files(); }
  // The model's tensors: model.safetensors or its shards.
  const SafetensorsSet& model_set() const { return *model_; }
  // With config.json's loaq.lowrank_branches or loaq.weights_in_quant_state, the quant_state files
  // (one, or shards with an index) are opened too: that set, or null.
  const SafetensorsSet* state_set() const { return state_ ? &*state_ : nullptr; }
  // Whether the weight `name` ("<linear>.weight") is dequantized from the integer state.
  bool in_state(const std::string& name) const { return from_state_.count(name) != 0; }

 private:
  std::string dir_;
  ModelConfig config_;
  std::optional<SafetensorsSet> model_, state_;
  // The weights model.safetensors omits, by name, with their F32 [out, in] descriptions.
  std::map<std::string, TensorInfo> from_state_;
};

}  // namespace loaq
