#include "io/checkpoint.h"

#include <filesystem>

#include "core/error.h"

namespace loaq {

namespace fs = std::filesystem;

Checkpoint::Checkpoint(std::string dir) : dir_(std::move(dir)) {
  if (!fs::is_directory(dir_)) fail("'{}' is not a directory", dir_);
  config_ = load_model_config(dir_);
  model_.emplace(dir_, "model");
  if (config_.loaq.lowrank) {
    if (!SafetensorsSet::present(dir_, "quant_state"))
      fail(
          "{}: config.json says the linears have low-rank branches (loaq.lowrank_branches) but "
          "there is no quant_state.safetensors or quant_state.safetensors.index.json",
          dir_);
    state_.emplace(dir_, "quant_state");
  }
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  const TensorInfo* t = model_->find(name);
  if (!t) fail("{}: checkpoint has no tensor '{}'", dir_, name);
  return *t;
}

Tensor Checkpoint::load_f32(const std::string& name) const {
  const TensorInfo* t = model_->find(name);
  if (!t) fail("{}: missing weight '{}'", dir_, name);
  if (!is_float(t->dtype))  // an integer tensor converted to float would run silently as garbage
    fail("{}: tensor '{}' has dtype {} where a floating-point weight is expected",
         model_->path_of(name), name, dtype_name(t->dtype));
  return model_->read_f32(*t);
}

Tensor Checkpoint::load_f32(const std::string& name, const std::vector<int64_t>& expect) const {
  const auto& t = info(name);
  if (t.shape != expect)
    fail("{}: tensor '{}' has shape {} but config.json implies {}", model_->path_of(name), name,
         shape_str(t.shape), shape_str(expect));
  return load_f32(name);
}

const SafetensorsFile& Checkpoint::file_of(const std::string& name) const {
  if (!model_->find(name)) fail("{}: missing weight '{}'", dir_, name);
  return model_->file_of(name);
}

void Checkpoint::release(const std::string& name) const {
  if (const TensorInfo* t = model_->find(name)) model_->release(*t);
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> v;
  for (const TensorInfo* t : model_->tensors()) v.push_back(t->name);
  return v;
}

}  // namespace loaq
