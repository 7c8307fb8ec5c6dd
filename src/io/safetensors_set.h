#pragma once
// A safetensors file or its shards, read as one set of tensors: `stem`.safetensors, or the shards
// that `stem`.safetensors.index.json lists ({"metadata": {...}, "weight_map": {tensor: shard}}),
// as transformers' save_pretrained writes a model and `loaq quantize` writes its model and its
// quant_state (pipeline/output.h). Every file is opened, and its header validated
// (io/safetensors.h), up front; tensors are read lazily by name.
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/safetensors.h"

namespace loaq {

class SafetensorsSet {
 public:
  // `dir`/`stem`.safetensors.index.json and the shards it lists when the index exists (it wins
  // over a `stem`.safetensors beside it), else `dir`/`stem`.safetensors. The index must hold an
  // object weight_map whose values are file names in `dir` (no path) that exist, name each
  // tensor once, and agree with the shards: every tensor it lists is in the shard it names, and
  // every tensor of a shard is listed for that shard (so no tensor is in two shards). Throws
  // loaq::Error naming the index (and the shard and tensor) otherwise, or naming `dir` when
  // neither file exists.
  SafetensorsSet(const std::string& dir, const std::string& stem);
  // The set of one file.
  static SafetensorsSet single(std::string path);
  // Whether `dir` holds `stem`.safetensors or `stem`.safetensors.index.json.
  static bool present(const std::string& dir, const std::string& stem);

  // The index, or the one file: what an error about the set as a whole names.
  const std::string& path() const { return path_; }
  bool sharded() const { return sharded_; }
  // The files: the one file, or the shards in the order of their first tensor's name.
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // Every tensor, in name order.
  const std::vector<const TensorInfo*>& tensors() const { return order_; }
  // nullptr when absent.
  const TensorInfo* find(std::string_view name) const;
  // The tensor, checked for dtype and shape; throws naming the file otherwise.
  const TensorInfo& need(std::string_view name, DType dtype,
                         const std::vector<int64_t>& shape) const;
  // The file holding a tensor of this set; for a name, an error naming path() when it is absent.
  const SafetensorsFile& file_of(const TensorInfo& t) const;
  const SafetensorsFile& file_of(std::string_view name) const;
  // The file holding tensor `name`, or path() when none does: for error messages.
  const std::string& path_of(std::string_view name) const;

  // As SafetensorsFile's, in the file holding the tensor.
  std::span<const std::byte> bytes(const TensorInfo& t) const { return file_of(t).bytes(t); }
  Tensor read_f32(const TensorInfo& t) const { return file_of(t).read_f32(t); }
  // An error naming path() when the set has no such tensor.
  Tensor read_f32(std::string_view name) const;
  void release(const TensorInfo& t) const { file_of(t).release(t); }

  // The metadata of the set: every file must carry the same (`loaq quantize` writes one map per
  // set), else this throws naming the index, both shards and the key. Not checked on opening:
  // loading a checkpoint does not read metadata, and shards written by other tools may differ.
  const std::map<std::string, std::string>& metadata() const;

 private:
  SafetensorsSet() = default;
  void add_file(std::string path);
  void finish();

  std::string path_;
  bool sharded_ = false;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::pair<size_t, const TensorInfo*>, std::less<>> index_;
  std::vector<const TensorInfo*> order_;
  std::string metadata_conflict_;  // empty when every file's metadata is the same
};

// A tensor's stored values as T (the raw little-endian bytes, dtype not converted).
template <class T>
std::vector<T> raw_values(const SafetensorsSet& s, const TensorInfo& t) {
  const auto b = s.bytes(t);
  std::vector<T> v(b.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
  return v;
}

}  // namespace loaq
