#pragma once
// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the data section. Offsets are relative to the start of the data section.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace loaq {

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range within the data section
};

// Largest header accepted (the reference implementation's bound).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

// A read-only, memory-mapped safetensors file. Opening validates the whole header before any tensor
// is used: header length within the file and below kMaxSafetensorsHeader, valid JSON object, known
// dtypes, every byte range inside the data section, byte length = numel × dtype size, no overlapping
// ranges, no duplicate names. Any violation throws loaq::Error naming the file and the tensor.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(std::string path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&& o) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) = delete;
  SafetensorsFile(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  // Tensors in name order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorInfo* find(std::string_view name) const;
  // The raw little-endian bytes of a tensor of this file.
  std::span<const std::byte> bytes(const TensorInfo& t) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor converted to fp32. For float dtypes, NaN or Inf anywhere is an error naming the file
  // and the tensor.
  Tensor read_f32(const TensorInfo& t) const;
  Tensor read_f32(std::string_view name) const;
  // Drops the mapped pages of a tensor from this process's resident set (they stay in the page
  // cache): a layer-wise pass over a large checkpoint keeps only the layer it works on resident.
  void release(const TensorInfo& t) const;

 private:
  std::string path_;
  const std::byte* map_ = nullptr;
  size_t size_ = 0;
  const std::byte* data_ = nullptr;  // start of the data section
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;  // numel × dtype size bytes, little-endian
};

// The name, dtype and shape of a tensor to be written by SafetensorsWriter.
struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
};

class AtomicFile;

// Writes a safetensors file whose tensors are known up front but whose data arrives piece by piece,
// so that no more than one piece is in memory. The constructor validates the specs (names unique,
// not "__metadata__"), lays the tensors out as write_safetensors does and writes the header to a
// temporary file beside `path`; append() adds data in layout() order; commit() renames the file
// onto `path`. Without a successful commit() (an exception, a full disk) the temporary file is
// removed and `path` is untouched.
class SafetensorsWriter {
 public:
  SafetensorsWriter(const std::string& path, std::vector<TensorSpec> tensors,
                    const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // The tensors in file order with their byte ranges: their data must be appended in this order.
  const std::vector<TensorInfo>& layout() const { return layout_; }
  // Bytes of the data section (the sum of the tensors' sizes).
  uint64_t data_size() const { return layout_.empty() ? 0 : layout_.back().end; }
  // Appends the next bytes of tensor `name`, which must be the first incomplete tensor of layout();
  // a tensor may arrive in several pieces, but a piece may not run past its end. Throws naming the
  // file and both tensors otherwise. An empty piece does nothing (zero-size tensors need none).
  void append(std::string_view name, std::span<const std::byte> bytes);
  // Throws naming the first incomplete tensor unless every tensor is complete; then flushes, fsyncs
  // and renames onto the target path.
  void commit();

 private:
  void skip_empty();
  std::string path_;
  std::vector<TensorInfo> layout_;
  size_t next_ = 0;    // first incomplete tensor
  uint64_t done_ = 0;  // bytes of it already appended
  std::unique_ptr<AtomicFile> file_;
};

// Writes a safetensors file atomically (temporary file, then rename). Tensors are stored by
// descending element size, then name, contiguously; the header is padded with spaces to a multiple
// of 8 bytes, so every tensor is aligned to its element size. Throws if names repeat or a byte
// length disagrees with its shape.
void write_safetensors(const std::string& path, std::vector<TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Convenience: an fp32 tensor as a TensorToWrite (bytes view into `t`).
TensorToWrite f32_entry(std::string name, const Tensor& t);

}  // namespace loaq
