#pragma once
// A Hugging Face checkpoint directory: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json (io/safetensors_set.h). All files are opened (and validated) up
// front; tensors are read lazily by name.
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
  bool has(const std::string& name) const { return model_->find(name) != nullptr; }
  const TensorInfo& info(const std::string& name) const;
  // The tensor converted to fp32; error naming the file and tensor if missing or non-finite.
  Tensor load_f32(const std::string& name) const;
  // Like load_f32 but also checks the shape (error names the tensor, both shapes and config.json).
  Tensor load_f32(const std::string& name, const std::vector<int64_t>& expect_shape) const;
  std::vector<std::string> tensor_names() const;
  // The file holding a tensor (error naming the directory when it is absent).
  const SafetensorsFile& file_of(const std::string& name) const;
  // Drops the tensor's mapped pages from the resident set (SafetensorsFile::release).
  void release(const std::string& name) const;
  const std::vector<SafetensorsFile>& files() const { return model_->files(); }
  // The model's tensors: model.safetensors or its shards.
  const SafetensorsSet& model_set() const { return *model_; }
  // With config.json's loaq.lowrank_branches, the quant_state files (one, or shards with an index)
  // are opened too: that set, or null.
  const SafetensorsSet* state_set() const { return state_ ? &*state_ : nullptr; }

 private:
  std::string dir_;
  ModelConfig config_;
  std::optional<SafetensorsSet> model_, state_;
};

}  // namespace loaq
