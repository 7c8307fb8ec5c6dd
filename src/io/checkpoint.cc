#include "io/checkpoint.h"

#include <filesystem>

#include "io/json_file.h"

namespace loaq {

namespace fs = std::filesystem;

Checkpoint::Checkpoint(std::string dir) : dir_(std::move(dir)) {
  if (!fs::is_directory(dir_)) fail("'{}' is not a directory", dir_);
  config_ = load_model_config(dir_);
  const fs::path d(dir_);
  const auto index_path = (d / "model.safetensors.index.json").string();
  const auto single = (d / "model.safetensors").string();
  if (fs::exists(index_path)) {
    const auto idx = read_json_file(index_path);
    if (!idx.contains("weight_map") || !idx["weight_map"].is_object())
      fail("{}: missing object 'weight_map'", index_path);
    std::map<std::string, size_t> shard_of_file;
    std::vector<std::pair<std::string, std::string>> wanted;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail("{}: weight_map entry '{}' is not a string", index_path, it.key());
      const auto file = it.value().get<std::string>();
      if (file.find('/') != std::string::npos || file == ".." )
        fail("{}: weight_map entry '{}' points outside the directory ('{}')", index_path, it.key(), file);
      if (!shard_of_file.count(file)) {
        const auto p = (d / file).string();
        if (!fs::exists(p)) fail("{}: shard '{}' listed for '{}' does not exist", index_path, file, it.key());
        shard_of_file[file] = files_.size();
        files_.emplace_back(p);
      }
      wanted.emplace_back(it.key(), file);
    }
    for (const auto& [name, file] : wanted) {
      const size_t fi = shard_of_file[file];
      const auto* t = files_[fi].find(name);
      if (!t) fail("{}: index lists '{}' in '{}' but that shard has no such tensor", index_path, name, file);
      index_[name] = {fi, t};
    }
  } else if (fs::exists(single)) {
    files_.emplace_back(single);
    for (const auto& t : files_[0].tensors()) index_[t.name] = {0, &t};
  } else {
    fail("{}: no model.safetensors or model.safetensors.index.json", dir_);
  }
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
    fail("{}: tensor '{}' has shape {} but config.json implies {}", files_[index_.at(name).first].path(),
         name, shape_str(t.shape), shape_str(expect));
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
