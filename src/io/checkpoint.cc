#include "io/checkpoint.h"

#include <filesystem>

#include "io/json_file.h"

namespace loaq {

namespace fs = std::filesystem;

namespace {

// Opens `stem`.safetensors or the shards `stem`.safetensors.index.json lists, into `files` and
// `index`. False when neither exists.
bool open_set(const fs::path& d, const std::string& stem, std::vector<SafetensorsFile>& files,
              std::map<std::string, std::pair<size_t, const TensorInfo*>>& index) {
  const auto index_path = (d / (stem + ".safetensors.index.json")).string();
  const auto single = (d / (stem + ".safetensors")).string();
  if (fs::exists(index_path)) {
    const auto idx = read_json_file(index_path);
    if (!idx.contains("weight_map") || !idx["weight_map"].is_object())
      fail("{}: missing object 'weight_map'", index_path);
    std::map<std::string, size_t> shard_of_file;
    std::vector<std::pair<std::string, std::string>> wanted;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        fail("{}: weight_map entry '{}' is not a string", index_path, it.key());
      const auto file = it.value().get<std::string>();
      if (file.find('/') != std::string::npos || file == "..")
        fail("{}: weight_map entry '{}' points outside the directory ('{}')", index_path, it.key(),
             file);
      if (!shard_of_file.count(file)) {
        const auto p = (d / file).string();
        if (!fs::exists(p))
          fail("{}: shard '{}' listed for '{}' does not exist", index_path, file, it.key());
        shard_of_file[file] = files.size();
        files.emplace_back(p);
      }
      wanted.emplace_back(it.key(), file);
    }
    for (const auto& [name, file] : wanted) {
      const size_t fi = shard_of_file[file];
      const auto* t = files[fi].find(name);
      if (!t)
        fail("{}: index lists '{}' in '{}' but that shard has no such tensor", index_path, name,
             file);
      index[name] = {fi, t};
    }
    return true;
  }
  if (fs::exists(single)) {
    files.emplace_back(single);
    for (const auto& t : files.back().tensors()) index[t.name] = {files.size() - 1, &t};
    return true;
  }
  return false;
}

}  // namespace

Checkpoint::Checkpoint(std::string dir) : dir_(std::move(dir)) {
  if (!fs::is_directory(dir_)) fail("'{}' is not a directory", dir_);
  config_ = load_model_config(dir_);
  const fs::path d(dir_);
  if (!open_set(d, "model", files_, index_))
    fail("{}: no model.safetensors or model.safetensors.index.json", dir_);
  if (config_.loaq.lowrank && !open_set(d, "quant_state", state_files_, state_index_))
    fail(
        "{}: config.json says the linears have low-rank branches (loaq.lowrank_branches) but there "
        "is no quant_state.safetensors or quant_state.safetensors.index.json",
        dir_);
}

const SafetensorsFile* Checkpoint::state_file_of(const std::string& name) const {
  auto it = state_index_.find(name);
  return it == state_index_.end() ? nullptr : &state_files_[it->second.first];
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail("{}: checkpoint has no tensor '{}'", dir_, name);
  return *it->second.second;
}

Tensor Checkpoint::load_f32(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail("{}: missing weight '{}'", dir_, name);
  const SafetensorsFile& f = files_[it->second.first];
  const TensorInfo& t = *it->second.second;
  if (!is_float(t.dtype))  // an integer tensor converted to float would run silently as garbage
    fail("{}: tensor '{}' has dtype {} where a floating-point weight is expected", f.path(), name,
         dtype_name(t.dtype));
  return f.read_f32(t);
}

Tensor Checkpoint::load_f32(const std::string& name, const std::vector<int64_t>& expect) const {
  const auto& t = info(name);
  if (t.shape != expect)
    fail("{}: tensor '{}' has shape {} but config.json implies {}",
         files_[index_.at(name).first].path(), name, shape_str(t.shape), shape_str(expect));
  return load_f32(name);
}

const SafetensorsFile& Checkpoint::file_of(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail("{}: missing weight '{}'", dir_, name);
  return files_[it->second.first];
}

void Checkpoint::release(const std::string& name) const {
  auto it = index_.find(name);
  if (it != index_.end()) files_[it->second.first].release(*it->second.second);
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> v;
  for (const auto& [k, _] : index_) v.push_back(k);
  return v;
}

}  // namespace loaq
