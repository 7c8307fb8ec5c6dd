#include "io/safetensors_set.h"

#include <filesystem>
#include <set>

#include "core/error.h"
#include "io/json_file.h"

namespace loaq {

namespace fs = std::filesystem;

namespace {

std::string file_name(const SafetensorsFile& f) {
  return fs::path(f.path()).filename().string();
}

}  // namespace

bool SafetensorsSet::present(const std::string& dir, const std::string& stem) {
  const fs::path d(dir);
  return fs::exists(d / (stem + ".safetensors.index.json")) ||
         fs::exists(d / (stem + ".safetensors"));
}

SafetensorsSet SafetensorsSet::single(std::string path) {
  SafetensorsSet s;
  s.path_ = path;
  s.add_file(std::move(path));
  s.finish();
  return s;
}

void SafetensorsSet::add_file(std::string path) {
  files_.emplace_back(std::move(path));
  for (const auto& t : files_.back().tensors()) index_[t.name] = {files_.size() - 1, &t};
}

SafetensorsSet::SafetensorsSet(const std::string& dir, const std::string& stem) {
  const fs::path d(dir);
  const std::string index = (d / (stem + ".safetensors.index.json")).string();
  if (!fs::exists(index)) {
    const std::string one = (d / (stem + ".safetensors")).string();
    if (!fs::exists(one))
      fail("{}: no {}.safetensors or {}.safetensors.index.json", dir, stem, stem);
    path_ = one;
    add_file(one);
    finish();
    return;
  }
  path_ = index;
  sharded_ = true;
  // A name listed twice in weight_map: a plain parse would keep the last entry silently.
  std::string top, dup;
  std::set<std::string> seen;
  auto cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    if (ev == nlohmann::json::parse_event_t::key) {
      const auto k = parsed.get<std::string>();
      if (depth == 1) top = k;
      if (depth == 2 && top == "weight_map" && !seen.insert(k).second && dup.empty()) dup = k;
    }
    return true;
  };
  const auto idx = read_json_file(index, cb);
  if (!dup.empty()) fail("{}: weight_map lists '{}' twice", index, dup);
  if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
    fail("{}: missing object 'weight_map'", index);
  std::map<std::string, size_t> shard_of_file;
  std::vector<std::pair<std::string, size_t>> wanted;
  for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
    if (!it.value().is_string()) fail("{}: weight_map entry '{}' is not a string", index, it.key());
    const auto file = it.value().get<std::string>();
    if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos)
      fail("{}: weight_map entry '{}' points outside the directory ('{}')", index, it.key(), file);
    if (!shard_of_file.count(file)) {
      const auto p = (d / file).string();
      if (!fs::exists(p))
        fail("{}: shard '{}' listed for '{}' does not exist", index, file, it.key());
      shard_of_file[file] = files_.size();
      files_.emplace_back(p);
    }
    wanted.emplace_back(it.key(), shard_of_file[file]);
  }
  for (const auto& [name, fi] : wanted) {
    const auto* t = files_[fi].find(name);
    if (!t)
      fail("{}: index lists '{}' in '{}' but that shard has no such tensor", index, name,
           file_name(files_[fi]));
    index_[name] = {fi, t};
  }
  for (size_t fi = 0; fi < files_.size(); ++fi)
    for (const auto& t : files_[fi].tensors()) {
      const auto it = index_.find(t.name);
      if (it == index_.end())
        fail("{}: shard '{}' holds tensor '{}', which the index does not list", index,
             file_name(files_[fi]), t.name);
      if (it->second.first != fi)
        fail("{}: tensor '{}' is in shard '{}' and in '{}', the shard the index lists for it",
             index, t.name, file_name(files_[fi]), file_name(files_[it->second.first]));
    }
  finish();
}

void SafetensorsSet::finish() {
  for (const auto& [name, e] : index_) order_.push_back(e.second);
  for (size_t fi = 1; fi < files_.size() && metadata_conflict_.empty(); ++fi) {
    const auto &a = files_[0].metadata(), &b = files_[fi].metadata();
    if (a == b) continue;
    std::set<std::string> keys;
    for (const auto& [k, v] : a) keys.insert(k);
    for (const auto& [k, v] : b) keys.insert(k);
    for (const auto& k : keys) {
      const auto ia = a.find(k), ib = b.find(k);
      const std::string va = ia == a.end() ? "(none)" : "'" + ia->second + "'";
      const std::string vb = ib == b.end() ? "(none)" : "'" + ib->second + "'";
      if (va == vb) continue;
      metadata_conflict_ =
          fmt::format("{}: shards '{}' and '{}' carry different metadata: '{}' is {} and {}", path_,
                      file_name(files_[0]), file_name(files_[fi]), k, va, vb);
      break;
    }
  }
}

const TensorInfo* SafetensorsSet::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second.second;
}

const TensorInfo& SafetensorsSet::need(std::string_view name, DType dtype,
                                       const std::vector<int64_t>& shape) const {
  const TensorInfo* t = find(name);
  if (!t) fail("{}: missing tensor '{}'", path_, name);
  const std::string& f = file_of(*t).path();
  if (t->dtype != dtype)
    fail("{}: tensor '{}' has dtype {}, expected {}", f, name, dtype_name(t->dtype),
         dtype_name(dtype));
  if (t->shape != shape)
    fail("{}: tensor '{}' has shape {}, expected {}", f, name, shape_str(t->shape),
         shape_str(shape));
  return *t;
}

const SafetensorsFile& SafetensorsSet::file_of(const TensorInfo& t) const {
  const auto it = index_.find(t.name);
  if (it == index_.end() || it->second.second != &t)
    fail("internal error: tensor '{}' is not one of {}", t.name, path_);
  return files_[it->second.first];
}

const SafetensorsFile& SafetensorsSet::file_of(std::string_view name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) fail("{}: missing tensor '{}'", path_, name);
  return files_[it->second.first];
}

const std::string& SafetensorsSet::path_of(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? path_ : files_[it->second.first].path();
}

Tensor SafetensorsSet::read_f32(std::string_view name) const {
  const TensorInfo* t = find(name);
  if (!t) fail("{}: no tensor named '{}'", path_, name);
  return read_f32(*t);
}

const std::map<std::string, std::string>& SafetensorsSet::metadata() const {
  if (!metadata_conflict_.empty()) fail("{}", metadata_conflict_);
  static const std::map<std::string, std::string> kNone;
  return files_.empty() ? kNone : files_[0].metadata();
}

}  // namespace loaq
