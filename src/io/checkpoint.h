#pragma once
// A Hugging Face checkpoint directory: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json. All files are opened (and validated) up front; tensors are read
// lazily by name.
#include <map>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "io/safetensors.h"

namespace loaq {

class Checkpoint {
 public:
  // Throws loaq::Error naming the file when config, index or a shard is missing or invalid.
  explicit Checkpoint(std::string dir);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  bool has(const std::string& name) const { return index_.count(name) != 0; }
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
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // With config.json's loaq.lowrank_branches, the quant_state files (one, or shards with an index)
  // are opened too: the file holding quant-state tensor `name`, or null.
  const SafetensorsFile* state_file_of(const std::string& name) const;

 private:
  std::string dir_;
  ModelConfig config_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::pair<size_t, const TensorInfo*>> index_;
  std::vector<SafetensorsFile> state_files_;
  std::map<std::string, std::pair<size_t, const TensorInfo*>> state_index_;
};

}  // namespace loaq
