#pragma once
// The GGUF v3 container of llama.cpp / ggml (ggml's docs/gguf.md): little-endian
//   "GGUF", u32 version = 3, u64 tensor_count, u64 kv_count,
//   kv_count × (string key, u32 value type, value)      string = u64 length + bytes (no NUL)
//   tensor_count × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset)
//   padding to `general.alignment` (u32, default 32), then the data section; each tensor's
//   offset (relative to the data section) is a multiple of the alignment.
// ne[0] is the innermost (contiguous) dimension: a Hugging Face weight W[out, in] is ne = {in,
// out}. This header is the container only; the block codecs of the quantized types are
// quant/gguf_block.h.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace loaq {

// The ggml tensor types (ggml.h's numbering) a GGUF file may hold.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

// How a ggml type is stored: rows of ne[0] elements in blocks of `block` elements, `bytes` each.
// The one table of these facts (gguf.cc); quant/gguf_block.h adds the codecs of the types loaq
// writes.
struct GgmlTypeInfo {
  GgmlType type;
  const char* name;  // ggml's spelling: "F32", "Q4_K", ...
  int64_t block;     // elements per block
  int64_t bytes;     // bytes per block
};
// nullptr for a number that is no ggml type.
const GgmlTypeInfo* ggml_type_info(uint32_t type);
const GgmlTypeInfo& ggml_type_info(GgmlType type);
// By name (as ggml spells it); nullptr when unknown.
const GgmlTypeInfo* ggml_type_by_name(const std::string& name);

// GGUF metadata value types.
enum class GgufValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

// One metadata value: a scalar (count 1) or an array of `type` elements. Integers and bools are
// held in `ints` (a u64 above 2^63 − 1 as its two's-complement bit pattern), floats in `floats`,
// strings in `strings`; exactly one of them is used.
struct GgufValue {
  GgufValueType type = GgufValueType::U32;
  bool is_array = false;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  size_t size() const;
  static GgufValue u32(uint32_t v);
  static GgufValue i32(int32_t v);
  static GgufValue u64(uint64_t v);
  static GgufValue f32(float v);
  static GgufValue boolean(bool v);
  static GgufValue str(std::string v);
  static GgufValue array_str(std::vector<std::string> v);
  static GgufValue array_f32(std::vector<float> v);
  static GgufValue array_i32(std::vector<int32_t> v);
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] innermost
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // within the data section
  uint64_t nbytes = 0;  // rows × blocks per row × block bytes
  int64_t numel() const;
};

// Limits of the reader (bad files are rejected before anything is allocated from their counts).
inline constexpr uint64_t kGgufMaxStringBytes = 1ull << 30;
inline constexpr int kGgufMaxDims = 4;

// A parsed GGUF header: the metadata (in file order), the tensors (in file order), where the
// data section starts.
struct GgufHeader {
  uint32_t version = 3;
  std::vector<std::pair<std::string, GgufValue>> kv;
  std::vector<GgufTensorInfo> tensors;
  uint32_t alignment = 32;
  uint64_t data_offset = 0;  // from the start of the file

  const GgufValue* find(const std::string& key) const;
  const GgufTensorInfo* tensor(const std::string& name) const;
  // Typed lookups: throw loaq::Error naming `file` and the key when missing or of another type.
  std::string get_str(const std::string& key, const std::string& file) const;
  int64_t get_int(const std::string& key, const std::string& file) const;
  double get_float(const std::string& key, const std::string& file) const;
};

// Parses and validates the header of a GGUF file held in `bytes` (the whole file): magic, version
// 3, every count and string length within the file, known value types (arrays of arrays refused),
// no duplicate keys or tensor names, general.alignment a power of two of type u32, 1 to 4 dims each
// ≥ 1 with a total that does not overflow, ne[0] a multiple of the type's block, known tensor
// types, offsets aligned, every tensor inside the file and no two overlapping. Errors name `file`.
GgufHeader parse_gguf(std::span<const std::byte> bytes, const std::string& file);

// A memory-mapped, validated GGUF file.
class GgufFile {
 public:
  explicit GgufFile(std::string path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  const GgufHeader& header() const { return header_; }
  std::span<const std::byte> data(const GgufTensorInfo& t) const;

 private:
  std::string path_;
  const std::byte* map_ = nullptr;
  size_t size_ = 0;
  GgufHeader header_;
};

// A tensor to write: its name, ggml shape and type.
struct GgufTensorSpec {
  std::string name;
  std::vector<int64_t> ne;
  GgmlType type = GgmlType::F32;
};

// Writes a GGUF v3 file to `path`: the metadata in the given order (general.alignment honoured
// when present, else 32), the tensor infos in the given order, each tensor at an aligned offset,
// zero padding. `bytes_of(i)` gives tensor i's bytes in its type's layout; it is called once per
// tensor, in order, so that only one tensor is in memory; its size is checked against the type
// and shape. Throws loaq::Error on bad input or an I/O failure.
void write_gguf(const std::string& path, const std::vector<std::pair<std::string, GgufValue>>& kv,
                const std::vector<GgufTensorSpec>& tensors,
                const std::function<std::vector<std::byte>(size_t)>& bytes_of);

// Bytes a tensor of `type` and shape `ne` takes; throws loaq::Error (naming `what`) when ne[0] is
// not a multiple of the block or the size overflows.
uint64_t ggml_nbytes(GgmlType type, const std::vector<int64_t>& ne, const std::string& what);

}  // namespace loaq
