#include "io/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "core/error.h"
#include "io/atomic_file.h"

namespace loaq {

namespace {

constexpr GgmlTypeInfo kTypes[] = {
    {GgmlType::F32, "F32", 1, 4},
    {GgmlType::F16, "F16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", 32, 18},
    {GgmlType::Q4_1, "Q4_1", 32, 20},
    {GgmlType::Q5_0, "Q5_0", 32, 22},
    {GgmlType::Q5_1, "Q5_1", 32, 24},
    {GgmlType::Q8_0, "Q8_0", 32, 34},
    {GgmlType::Q8_1, "Q8_1", 32, 36},
    {GgmlType::Q2_K, "Q2_K", 256, 84},
    {GgmlType::Q3_K, "Q3_K", 256, 110},
    {GgmlType::Q4_K, "Q4_K", 256, 144},
    {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210},
    {GgmlType::Q8_K, "Q8_K", 256, 292},
    {GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66},
    {GgmlType::IQ2_XS, "IQ2_XS", 256, 74},
    {GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98},
    {GgmlType::IQ1_S, "IQ1_S", 256, 50},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 18},
    {GgmlType::IQ3_S, "IQ3_S", 256, 110},
    {GgmlType::IQ2_S, "IQ2_S", 256, 82},
    {GgmlType::IQ4_XS, "IQ4_XS", 256, 136},
    {GgmlType::I8, "I8", 1, 1},
    {GgmlType::I16, "I16", 1, 2},
    {GgmlType::I32, "I32", 1, 4},
    {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},
    {GgmlType::IQ1_M, "IQ1_M", 256, 56},
    {GgmlType::BF16, "BF16", 1, 2},
    {GgmlType::TQ1_0, "TQ1_0", 256, 54},
    {GgmlType::TQ2_0, "TQ2_0", 256, 66},
    {GgmlType::MXFP4, "MXFP4", 32, 17},
};

// Byte size of a scalar value type; 0 for string and array.
size_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::U8:
    case GgufValueType::I8:
    case GgufValueType::BOOL:
      return 1;
    case GgufValueType::U16:
    case GgufValueType::I16:
      return 2;
    case GgufValueType::U32:
    case GgufValueType::I32:
    case GgufValueType::F32:
      return 4;
    case GgufValueType::U64:
    case GgufValueType::I64:
    case GgufValueType::F64:
      return 8;
    default:
      return 0;
  }
}

bool is_float_type(GgufValueType t) {
  return t == GgufValueType::F32 || t == GgufValueType::F64;
}

const char* value_type_name(GgufValueType t) {
  static const char* names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  return uint32_t(t) <= 12 ? names[uint32_t(t)] : "unknown";
}

// A bounds-checked cursor over the file's bytes.
class Cursor {
 public:
  Cursor(std::span<const std::byte> b, const std::string& file) : b_(b), file_(file) {}
  uint64_t pos() const { return pos_; }
  void need(uint64_t n, const char* what) const {
    if (n > b_.size() - pos_)
      fail("{}: truncated GGUF: {} needs {} bytes at offset {}, the file has {}", file_, what, n,
           pos_, b_.size());
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const auto n = get<uint64_t>(what);
    if (n > kGgufMaxStringBytes)
      fail("{}: {} at offset {} has length {}, above the limit of {} bytes", file_, what, pos_ - 8,
           n, kGgufMaxStringBytes);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), size_t(n));
    pos_ += n;
    return s;
  }

 private:
  std::span<const std::byte> b_;
  const std::string& file_;
  uint64_t pos_ = 0;
};

void read_scalar(Cursor& c, GgufValueType t, GgufValue& v, const char* what) {
  switch (t) {
    case GgufValueType::U8:
      v.ints.push_back(c.get<uint8_t>(what));
      break;
    case GgufValueType::I8:
      v.ints.push_back(c.get<int8_t>(what));
      break;
    case GgufValueType::BOOL:
      v.ints.push_back(c.get<uint8_t>(what));
      break;
    case GgufValueType::U16:
      v.ints.push_back(c.get<uint16_t>(what));
      break;
    case GgufValueType::I16:
      v.ints.push_back(c.get<int16_t>(what));
      break;
    case GgufValueType::U32:
      v.ints.push_back(c.get<uint32_t>(what));
      break;
    case GgufValueType::I32:
      v.ints.push_back(c.get<int32_t>(what));
      break;
    case GgufValueType::U64:
      v.ints.push_back(int64_t(c.get<uint64_t>(what)));
      break;
    case GgufValueType::I64:
      v.ints.push_back(c.get<int64_t>(what));
      break;
    case GgufValueType::F32:
      v.floats.push_back(c.get<float>(what));
      break;
    case GgufValueType::F64:
      v.floats.push_back(c.get<double>(what));
      break;
    case GgufValueType::STRING:
      v.strings.push_back(c.str(what));
      break;
    case GgufValueType::ARRAY:
      break;  // not a scalar: refused by the caller
  }
}

bool known_value_type(uint32_t t) {
  return t <= uint32_t(GgufValueType::F64);
}

void put_scalar(std::string& out, GgufValueType t, const GgufValue& v, size_t i) {
  auto raw = [&out](const auto x) { out.append(reinterpret_cast<const char*>(&x), sizeof(x)); };
  switch (t) {
    case GgufValueType::U8:
    case GgufValueType::BOOL:
      raw(uint8_t(v.ints[i]));
      break;
    case GgufValueType::I8:
      raw(int8_t(v.ints[i]));
      break;
    case GgufValueType::U16:
      raw(uint16_t(v.ints[i]));
      break;
    case GgufValueType::I16:
      raw(int16_t(v.ints[i]));
      break;
    case GgufValueType::U32:
      raw(uint32_t(v.ints[i]));
      break;
    case GgufValueType::I32:
      raw(int32_t(v.ints[i]));
      break;
    case GgufValueType::U64:
      raw(uint64_t(v.ints[i]));
      break;
    case GgufValueType::I64:
      raw(int64_t(v.ints[i]));
      break;
    case GgufValueType::F32:
      raw(float(v.floats[i]));
      break;
    case GgufValueType::F64:
      raw(double(v.floats[i]));
      break;
    case GgufValueType::STRING:
      raw(uint64_t(v.strings[i].size()));
      out += v.strings[i];
      break;
    case GgufValueType::ARRAY:
      break;
  }
}

void put_str(std::string& out, const std::string& s) {
  const uint64_t n = s.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += s;
}

template <class T>
void put(std::string& out, T x) {
  out.append(reinterpret_cast<const char*>(&x), sizeof(x));
}

uint64_t align_up(uint64_t x, uint64_t a) {
  return (x + a - 1) / a * a;
}

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t type) {
  for (const auto& t : kTypes)
    if (uint32_t(t.type) == type) return &t;
  return nullptr;
}

const GgmlTypeInfo& ggml_type_info(GgmlType type) {
  const auto* t = ggml_type_info(uint32_t(type));
  if (!t) fail("ggml type {} is not in the type table", uint32_t(type));
  return *t;
}

const GgmlTypeInfo* ggml_type_by_name(const std::string& name) {
  for (const auto& t : kTypes)
    if (name == t.name) return &t;
  return nullptr;
}

size_t GgufValue::size() const {
  if (type == GgufValueType::STRING) return strings.size();
  return is_float_type(type) ? floats.size() : ints.size();
}

GgufValue GgufValue::u32(uint32_t v) {
  return {GgufValueType::U32, false, {int64_t(v)}, {}, {}};
}
GgufValue GgufValue::i32(int32_t v) {
  return {GgufValueType::I32, false, {v}, {}, {}};
}
GgufValue GgufValue::u64(uint64_t v) {
  return {GgufValueType::U64, false, {int64_t(v)}, {}, {}};
}
GgufValue GgufValue::f32(float v) {
  return {GgufValueType::F32, false, {}, {v}, {}};
}
GgufValue GgufValue::boolean(bool v) {
  return {GgufValueType::BOOL, false, {v ? 1 : 0}, {}, {}};
}
GgufValue GgufValue::str(std::string v) {
  return {GgufValueType::STRING, false, {}, {}, {std::move(v)}};
}
GgufValue GgufValue::array_str(std::vector<std::string> v) {
  return {GgufValueType::STRING, true, {}, {}, std::move(v)};
}
GgufValue GgufValue::array_f32(std::vector<float> v) {
  return {GgufValueType::F32, true, {}, std::vector<double>(v.begin(), v.end()), {}};
}
GgufValue GgufValue::array_i32(std::vector<int32_t> v) {
  return {GgufValueType::I32, true, std::vector<int64_t>(v.begin(), v.end()), {}, {}};
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

uint64_t ggml_nbytes(GgmlType type, const std::vector<int64_t>& ne, const std::string& what) {
  const auto& ti = ggml_type_info(type);
  if (ne.empty() || ne.size() > size_t(kGgufMaxDims))
    fail("{}: {} dimensions (1 to {} allowed)", what, ne.size(), kGgufMaxDims);
  for (auto d : ne)
    if (d < 1) fail("{}: dimension {} is not positive", what, d);
  if (ne[0] % ti.block != 0)
    fail("{}: type {} needs rows of a multiple of {} elements, ne[0] is {}", what, ti.name,
         ti.block, ne[0]);
  constexpr uint64_t kMax = uint64_t(1) << 62;
  uint64_t rows = 1;
  for (size_t i = 1; i < ne.size(); ++i) {
    if (uint64_t(ne[i]) > kMax / rows) fail("{}: the shape's element count overflows", what);
    rows *= uint64_t(ne[i]);
  }
  const uint64_t row_bytes = uint64_t(ne[0] / ti.block) * uint64_t(ti.bytes);
  if (row_bytes > kMax || (rows > 0 && row_bytes > kMax / rows))
    fail("{}: the tensor's byte size overflows", what);
  return rows * row_bytes;
}

const GgufValue* GgufHeader::find(const std::string& key) const {
  for (const auto& [k, v] : kv)
    if (k == key) return &v;
  return nullptr;
}

const GgufTensorInfo* GgufHeader::tensor(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string GgufHeader::get_str(const std::string& key, const std::string& file) const {
  const auto* v = find(key);
  if (!v) fail("{}: metadata key '{}' is missing", file, key);
  if (v->is_array || v->type != GgufValueType::STRING)
    fail("{}: metadata key '{}' is not a string", file, key);
  return v->strings[0];
}

int64_t GgufHeader::get_int(const std::string& key, const std::string& file) const {
  const auto* v = find(key);
  if (!v) fail("{}: metadata key '{}' is missing", file, key);
  if (v->is_array || scalar_size(v->type) == 0 || is_float_type(v->type))
    fail("{}: metadata key '{}' is not an integer ({})", file, key, value_type_name(v->type));
  return v->ints[0];
}

double GgufHeader::get_float(const std::string& key, const std::string& file) const {
  const auto* v = find(key);
  if (!v) fail("{}: metadata key '{}' is missing", file, key);
  if (v->is_array || scalar_size(v->type) == 0)
    fail("{}: metadata key '{}' is not a number", file, key);
  return is_float_type(v->type) ? v->floats[0] : double(v->ints[0]);
}

GgufHeader parse_gguf(std::span<const std::byte> bytes, const std::string& file) {
  Cursor c(bytes, file);
  GgufHeader h;
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "GGUF", 4) != 0)
    fail("{}: not a GGUF file (the first 4 bytes are not \"GGUF\")", file);
  (void)c.get<uint32_t>("the magic");
  h.version = c.get<uint32_t>("the version");
  if (h.version != 3) fail("{}: GGUF version {}; only version 3 is supported", file, h.version);
  const auto n_tensors = c.get<uint64_t>("the tensor count");
  const auto n_kv = c.get<uint64_t>("the metadata count");
  // Each entry takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info 8 + 4 + 8 + 4
  // + 8: counts beyond what the file can hold are refused before any allocation.
  if (n_kv > bytes.size() / 13)
    fail("{}: metadata count {} cannot fit in a file of {} bytes", file, n_kv, bytes.size());
  if (n_tensors > bytes.size() / 32)
    fail("{}: tensor count {} cannot fit in a file of {} bytes", file, n_tensors, bytes.size());

  std::set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.str("a metadata key");
    if (!keys.insert(key).second) fail("{}: metadata key '{}' appears twice", file, key);
    const auto t = c.get<uint32_t>("a metadata value type");
    if (!known_value_type(t)) fail("{}: metadata key '{}' has unknown value type {}", file, key, t);
    GgufValue v;
    v.type = GgufValueType(t);
    if (v.type == GgufValueType::ARRAY) {
      const auto et = c.get<uint32_t>("an array element type");
      if (!known_value_type(et) || GgufValueType(et) == GgufValueType::ARRAY)
        fail("{}: metadata key '{}': array element type {} is not allowed", file, key, et);
      v.type = GgufValueType(et);
      v.is_array = true;
      const auto n = c.get<uint64_t>("an array length");
      const uint64_t min_bytes = v.type == GgufValueType::STRING ? 8 : scalar_size(v.type);
      if (n > (bytes.size() - c.pos()) / min_bytes)
        fail("{}: metadata key '{}': array of {} elements runs past the end of the file", file, key,
             n);
      for (uint64_t j = 0; j < n; ++j) read_scalar(c, v.type, v, "an array element");
    } else {
      read_scalar(c, v.type, v, "a metadata value");
    }
    h.kv.emplace_back(std::move(key), std::move(v));
  }
  if (const auto* a = h.find("general.alignment")) {
    if (a->is_array || a->type != GgufValueType::U32)
      fail("{}: general.alignment must be a u32 (it is {}{})", file,
           a->is_array ? "an array of " : "", value_type_name(a->type));
    const auto al = uint64_t(a->ints[0]);
    if (al == 0 || (al & (al - 1)) != 0)
      fail("{}: general.alignment {} is not a power of two", file, al);
    h.alignment = uint32_t(al);
  }

  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = c.str("a tensor name");
    if (!names.insert(t.name).second) fail("{}: tensor '{}' appears twice", file, t.name);
    const auto nd = c.get<uint32_t>("a tensor's dimension count");
    if (nd < 1 || nd > uint32_t(kGgufMaxDims))
      fail("{}: tensor '{}' has {} dimensions (1 to {} allowed)", file, t.name, nd, kGgufMaxDims);
    for (uint32_t d = 0; d < nd; ++d) {
      const auto v = c.get<uint64_t>("a tensor dimension");
      if (v == 0 || v > (uint64_t(1) << 62))
        fail("{}: tensor '{}': dimension {} is {}", file, t.name, d, v);
      t.ne.push_back(int64_t(v));
    }
    const auto ty = c.get<uint32_t>("a tensor type");
    if (!ggml_type_info(ty)) fail("{}: tensor '{}' has unknown ggml type {}", file, t.name, ty);
    t.type = GgmlType(ty);
    t.offset = c.get<uint64_t>("a tensor offset");
    if (t.offset % h.alignment != 0)
      fail("{}: tensor '{}': offset {} is not a multiple of the alignment {}", file, t.name,
           t.offset, h.alignment);
    t.nbytes = ggml_nbytes(t.type, t.ne, fmt::format("{}: tensor '{}'", file, t.name));
    h.tensors.push_back(std::move(t));
  }
  h.data_offset = align_up(c.pos(), h.alignment);
  if (h.data_offset > bytes.size() && !h.tensors.empty())
    fail("{}: the data section (offset {}) starts past the end of the file ({} bytes)", file,
         h.data_offset, bytes.size());
  const uint64_t data_size = bytes.size() >= h.data_offset ? bytes.size() - h.data_offset : 0;
  std::vector<std::pair<uint64_t, const GgufTensorInfo*>> ranges;
  for (const auto& t : h.tensors) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      fail("{}: tensor '{}' ({} bytes at data offset {}) runs past the end of the file", file,
           t.name, t.nbytes, t.offset);
    ranges.emplace_back(t.offset, &t);
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    const auto* p = ranges[i - 1].second;
    if (p->offset + p->nbytes > ranges[i].first)
      fail("{}: tensors '{}' and '{}' overlap", file, p->name, ranges[i].second->name);
  }
  return h;
}

GgufFile::GgufFile(std::string path) : path_(std::move(path)) {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open '{}': {}", path_, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("'{}' is not a readable regular file", path_);
  }
  size_ = size_t(st.st_size);
  if (size_ > 0) {
    void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    if (m == MAP_FAILED) fail("cannot mmap '{}': {}", path_, std::strerror(e));
    map_ = static_cast<const std::byte*>(m);
  } else {
    ::close(fd);
  }
  try {
    header_ = parse_gguf({map_, size_}, path_);
  } catch (...) {
    if (map_) ::munmap(const_cast<std::byte*>(map_), size_);
    map_ = nullptr;
    throw;
  }
}

GgufFile::~GgufFile() {
  if (map_) ::munmap(const_cast<std::byte*>(map_), size_);
}

std::span<const std::byte> GgufFile::data(const GgufTensorInfo& t) const {
  return {map_ + header_.data_offset + t.offset, size_t(t.nbytes)};
}

void write_gguf(const std::string& path, const std::vector<std::pair<std::string, GgufValue>>& kv,
                const std::vector<GgufTensorSpec>& tensors,
                const std::function<std::vector<std::byte>(size_t)>& bytes_of) {
  uint64_t alignment = 32;
  std::string head;
  head += "GGUF";
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors.size());
  put<uint64_t>(head, kv.size());
  for (const auto& [key, v] : kv) {
    if (key == "general.alignment") {
      if (v.is_array || v.type != GgufValueType::U32 || v.ints[0] <= 0 ||
          (v.ints[0] & (v.ints[0] - 1)) != 0)
        fail("{}: general.alignment must be a u32 power of two", path);
      alignment = uint64_t(v.ints[0]);
    }
    if (v.size() != 1 && !v.is_array) fail("{}: metadata '{}' is not one value", path, key);
    put_str(head, key);
    if (v.is_array) {
      put<uint32_t>(head, uint32_t(GgufValueType::ARRAY));
      put<uint32_t>(head, uint32_t(v.type));
      put<uint64_t>(head, v.size());
    } else {
      put<uint32_t>(head, uint32_t(v.type));
    }
    for (size_t i = 0; i < v.size(); ++i) put_scalar(head, v.type, v, i);
  }
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    sizes.push_back(ggml_nbytes(t.type, t.ne, fmt::format("{}: tensor '{}'", path, t.name)));
    put_str(head, t.name);
    put<uint32_t>(head, uint32_t(t.ne.size()));
    for (auto d : t.ne) put<uint64_t>(head, uint64_t(d));
    put<uint32_t>(head, uint32_t(t.type));
    put<uint64_t>(head, offset);
    offset = align_up(offset + sizes.back(), alignment);
  }
  head.resize(align_up(head.size(), alignment), '\0');
  AtomicFile f(path);
  f.write(head);
  const std::string zeros(alignment, '\0');
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto b = bytes_of(i);
    if (b.size() != sizes[i])
      fail("{}: tensor '{}' has {} bytes, its type {} and shape need {}", path, tensors[i].name,
           b.size(), ggml_type_info(tensors[i].type).name, sizes[i]);
    f.write(b.data(), b.size());
    const uint64_t pad = align_up(sizes[i], alignment) - sizes[i];
    if (pad > 0) f.write(zeros.data(), pad);
  }
  f.commit();
}

}  // namespace loaq
