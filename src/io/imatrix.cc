#include "io/imatrix.h"

#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "io/gguf.h"

namespace loaq {

namespace {

// The metadata keys llama-imatrix writes (common/imatrix-loader.h).
constexpr const char* kDatasets = "imatrix.datasets";
constexpr const char* kChunkCount = "imatrix.chunk_count";
constexpr const char* kChunkSize = "imatrix.chunk_size";

void check_finite(const Imatrix& m) {
  for (const auto& [name, e] : m.entries)
    for (size_t i = 0; i < e.values.size(); ++i)
      if (!std::isfinite(e.values[i]))
        fail("{}: entry '{}' has a non-finite value ({} at {})", m.path, name, e.values[i], i);
}

bool remove_suffix(std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  s.resize(s.size() - suffix.size());
  return true;
}

uint32_t get_u32(const GgufHeader& h, const char* key, const std::string& path) {
  const GgufValue* v = h.find(key);
  if (v->type != GgufValueType::U32 || v->is_array || v->ints.size() != 1)
    fail("{}: imatrix metadata {} must be a u32", path, key);
  return uint32_t(v->ints[0]);
}

Imatrix parse_gguf_imatrix(std::span<const std::byte> bytes, const std::string& path) {
  const GgufHeader h = parse_gguf(bytes, path);
  Imatrix m;
  m.path = path;
  if (h.tensors.empty()) fail("{}: no data (the imatrix GGUF holds no tensors)", path);
  if (!h.find(kDatasets) || !h.find(kChunkCount) || !h.find(kChunkSize))
    fail(
        "{}: missing imatrix metadata ({}, {} and {} are required, as llama-quantize requires "
        "them)",
        path, kDatasets, kChunkCount, kChunkSize);
  const GgufValue* ds = h.find(kDatasets);
  if (ds->type != GgufValueType::STRING || !ds->is_array)
    fail("{}: imatrix metadata {} must be an array of strings", path, kDatasets);
  m.datasets = ds->strings;
  m.chunk_count = int32_t(get_u32(h, kChunkCount, path));
  m.chunk_size = int32_t(get_u32(h, kChunkSize, path));

  // Pair each T.in_sum2 with its T.counts (other tensors are not the imatrix's).
  std::map<std::string, std::pair<const GgufTensorInfo*, const GgufTensorInfo*>> pairs;
  for (const auto& t : h.tensors) {
    std::string name = t.name;
    if (name.empty()) continue;
    if (remove_suffix(name, ".in_sum2")) {
      pairs[name].first = &t;
    } else if (remove_suffix(name, ".counts")) {
      pairs[name].second = &t;
    }
  }
  if (pairs.empty()) fail("{}: no imatrix entries (no <tensor>.in_sum2 and .counts)", path);
  auto floats = [&](const GgufTensorInfo& t) {
    std::vector<float> v(size_t(t.numel()));
    if (!v.empty()) std::memcpy(v.data(), bytes.data() + h.data_offset + t.offset, v.size() * 4);
    return v;
  };
  for (const auto& [name, p] : pairs) {
    const auto [sums_t, counts_t] = p;
    if (!sums_t || !counts_t) fail("{}: mismatched sums and counts for '{}'", path, name);
    if (sums_t->type != GgmlType::F32 || counts_t->type != GgmlType::F32)
      fail("{}: sums and counts of '{}' must be F32", path, name);
    const std::vector<float> sums = floats(*sums_t), counts = floats(*counts_t);
    const auto n_mat = int64_t(counts.size());
    if (n_mat < 1 || sums.empty() || int64_t(sums.size()) % n_mat != 0)
      fail("{}: '{}' has {} sums for {} counts (expected a whole row of sums per count)", path,
           name, sums.size(), n_mat);
    const int64_t ne0 = int64_t(sums.size()) / n_mat;
    ImatrixEntry e;
    e.n_mat = n_mat;
    e.values.resize(sums.size());
    for (int64_t j = 0; j < n_mat; ++j) {
      const float c = counts[size_t(j)];
      if (!std::isfinite(c) || std::fabs(c) > 0x1p62f)
        fail("{}: '{}' has a count that is not a finite token count ({})", path, name, c);
      const auto count = float(std::lround(c));  // as llama.cpp's loader: an integer, then float
      for (int64_t i = 0; i < ne0; ++i) {
        const size_t k = size_t(j * ne0 + i);
        e.values[k] = count > 0.0f ? sums[k] / count : 1.0f;
      }
    }
    m.entries.emplace(name, std::move(e));
  }
  return m;
}

// The legacy .dat, read front to back with every length checked against the bytes left.
class Cursor {
 public:
  Cursor(std::span<const std::byte> b, const std::string& path) : b_(b), path_(path) {}
  size_t left() const { return b_.size() - pos_; }
  int32_t i32(const char* what) {
    int32_t v;
    std::memcpy(&v, take(4, what), 4);
    return v;
  }
  const std::byte* take(uint64_t n, const char* what) {
    if (n > left())
      fail(
          "{}: truncated, or not an imatrix (read as the legacy .dat format, as it does not start "
          "with GGUF): {} needs {} bytes at offset {}, {} left",
          path_, what, n, pos_, left());
    const std::byte* p = b_.data() + pos_;
    pos_ += size_t(n);
    return p;
  }

 private:
  std::span<const std::byte> b_;
  const std::string& path_;
  size_t pos_ = 0;
};

Imatrix parse_legacy_imatrix(std::span<const std::byte> bytes, const std::string& path) {
  Imatrix m;
  m.path = path;
  m.legacy = true;
  Cursor c(bytes, path);
  if (bytes.size() < 4) fail("{}: no data (not a GGUF, and too short for a legacy imatrix)", path);
  const int32_t n_entries = c.i32("the entry count");
  if (n_entries < 1) fail("{}: no data (legacy imatrix with {} entries)", path, n_entries);
  for (int32_t i = 0; i < n_entries; ++i) {
    const int32_t len = c.i32("an entry's name length");
    if (len < 0) fail("{}: entry {} has a negative name length ({})", path, i + 1, len);
    const auto* p = reinterpret_cast<const char*>(c.take(uint64_t(len), "an entry's name"));
    const std::string name(p, strnlen(p, size_t(len)));  // as llama.cpp: up to a NUL
    const int32_t ncall = c.i32("an entry's call count");
    const int32_t nval = c.i32("an entry's value count");
    if (nval < 1) fail("{}: entry {} ('{}') has {} values", path, i + 1, name, nval);
    const std::byte* v = c.take(uint64_t(nval) * 4, "an entry's values");
    if (m.entries.count(name)) fail("{}: entry '{}' appears twice", path, name);
    ImatrixEntry e;
    e.values.resize(size_t(nval));
    std::memcpy(e.values.data(), v, size_t(nval) * 4);
    if (ncall > 0)
      for (float& x : e.values) x = x / float(ncall);  // llama-quantize: sums / ncall
    m.entries.emplace(name, std::move(e));
  }
  // The optional trailer: the chunk count, then the dataset's name.
  if (c.left() > 0) {
    m.chunk_count = c.i32("the chunk count");
    const int32_t len = c.i32("the dataset name's length");
    if (len < 0) fail("{}: the dataset name has a negative length ({})", path, len);
    const auto* p = reinterpret_cast<const char*>(c.take(uint64_t(len), "the dataset name"));
    if (len > 0) m.datasets.emplace_back(p, strnlen(p, size_t(len)));
    if (c.left() > 0) fail("{}: {} bytes after the legacy imatrix's dataset name", path, c.left());
  }
  return m;
}

}  // namespace

const ImatrixEntry* Imatrix::find(const std::string& tensor) const {
  auto it = entries.find(tensor);
  return it == entries.end() ? nullptr : &it->second;
}

Imatrix parse_imatrix(std::span<const std::byte> bytes, const std::string& path) {
  const bool gguf = bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0;
  Imatrix m = gguf ? parse_gguf_imatrix(bytes, path) : parse_legacy_imatrix(bytes, path);
  check_finite(m);
  return m;
}

Imatrix read_imatrix(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail("--imatrix {}: {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("--imatrix {}: not a regular file", path);
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("--imatrix {}: cannot open it", path);
  std::vector<char> raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) fail("--imatrix {}: read error", path);
  return parse_imatrix({reinterpret_cast<const std::byte*>(raw.data()), raw.size()}, path);
}

}  // namespace loaq
