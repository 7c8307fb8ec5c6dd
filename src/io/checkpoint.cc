#include "io/checkpoint.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "io/lowrank_state.h"
#include "io/quant_state.h"

namespace loaq {

namespace fs = std::filesystem;

namespace {

// "model.layers.0.mlp.down_proj" of "model.layers.0.mlp.down_proj.weight".
std::string linear_of(const std::string& weight) {
  return weight.substr(0, weight.size() - std::string_view(".weight").size());
}

}  // namespace

Checkpoint::Checkpoint(std::string dir) : dir_(std::move(dir)) {
  if (!fs::is_directory(dir_)) fail("'{}' is not a directory", dir_);
  config_ = load_model_config(dir_);
  model_.emplace(dir_, "model");
  if (config_.loaq.lowrank || config_.loaq.weights_in_state) {
    if (!SafetensorsSet::present(dir_, "quant_state"))
      fail(
          "{}: config.json says {} (loaq.{}) but there is no quant_state.safetensors or "
          "quant_state.safetensors.index.json",
          dir_,
          config_.loaq.lowrank ? "the linears have low-rank branches"
                               : "the quantized linears are stored as their integer state",
          config_.loaq.lowrank ? "lowrank_branches" : "weights_in_quant_state");
    state_.emplace(dir_, "quant_state");
  }
  if (!config_.loaq.weights_in_state) return;
  // Every linear with codes in the state whose weight model.safetensors omits.
  const std::string suffix = ".codes";
  for (const TensorInfo* t : state_->tensors()) {
    if (!t->name.ends_with(suffix) || is_lowrank_tensor(t->name)) continue;
    const std::string linear = t->name.substr(0, t->name.size() - suffix.size());
    const std::string w = linear + ".weight";
    if (model_->find(w)) continue;
    const std::vector<int64_t> shape = linear_state_shape(*state_, linear);
    from_state_[w] = TensorInfo{w, DType::F32, shape, 0, uint64_t(shape[0] * shape[1] * 4)};
  }
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  if (auto it = from_state_.find(name); it != from_state_.end()) return it->second;
  const TensorInfo* t = model_->find(name);
  if (!t) fail("{}: checkpoint has no tensor '{}'", dir_, name);
  return *t;
}

Tensor Checkpoint::load_f32(const std::string& name) const {
  if (from_state_.count(name)) return dequantize_linear(*state_, linear_of(name));
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
    fail("{}: tensor '{}' has shape {} but config.json implies {}", file_of(name).path(), name,
         shape_str(t.shape), shape_str(expect));
  return load_f32(name);
}

const SafetensorsFile& Checkpoint::file_of(const std::string& name) const {
  if (from_state_.count(name)) return state_->file_of(linear_of(name) + ".codes");
  if (!model_->find(name)) fail("{}: missing weight '{}'", dir_, name);
  return model_->file_of(name);
}

void Checkpoint::release(const std::string& name) const {
  if (from_state_.count(name)) return release_linear_state(*state_, linear_of(name));
  if (const TensorInfo* t = model_->find(name)) model_->release(*t);
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> v;
  for (const TensorInfo* t : model_->tensors()) v.push_back(t->name);
  for (const auto& [name, t] : from_state_) v.push_back(name);
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace loaq
