#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_file.h"

namespace loaq {

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 40;

std::vector<int64_t> parse_shape(const nlohmann::json& j, const std::string& path,
                                 const std::string& name) {
  if (!j.is_array()) fail("{}: tensor '{}': 'shape' is not an array", path, name);
  std::vector<int64_t> shape;
  for (const auto& d : j) {
    // The JSON parser stores every non-negative integer as unsigned: read it as such, so entries of
    // 2^63 and above cannot wrap to negative int64_t values.
    if (!d.is_number_unsigned())
      fail("{}: tensor '{}': shape entry {} is not a non-negative integer", path, name, d.dump());
    const auto v = d.get<uint64_t>();
    if (v > uint64_t(kMaxDim)) fail("{}: tensor '{}': shape entry {} is too large", path, name, v);
    shape.push_back(int64_t(v));
  }
  return shape;
}

}  // namespace

SafetensorsFile::SafetensorsFile(std::string path) : path_(std::move(path)) {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open '{}': {}", path_, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail("cannot stat '{}': {}", path_, std::strerror(e));
  }
  size_ = size_t(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    fail("{}: not a safetensors file: {} bytes, shorter than the 8-byte header length", path_, size_);
  }
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);
  if (m == MAP_FAILED) fail("cannot mmap '{}': {}", path_, std::strerror(map_err));
  map_ = static_cast<const std::byte*>(m);

  try {
    uint64_t n = 0;
    std::memcpy(&n, map_, 8);  // little-endian host assumed (x86-64, aarch64)
    if (n > kMaxSafetensorsHeader)
      fail("{}: header length {} exceeds the limit of {} bytes (corrupt or not safetensors)", path_, n,
           kMaxSafetensorsHeader);
    if (n > size_ - 8)
      fail("{}: header length {} runs past the end of the file ({} bytes): truncated or corrupt", path_,
           n, size_);
    data_ = map_ + 8 + n;
    const uint64_t data_size = size_ - 8 - n;
    const std::string_view text(reinterpret_cast<const char*>(map_ + 8), n);

    // Parse with a callback that sees every top-level key, to reject duplicate names (a plain
    // parse would silently keep the last one).
    std::set<std::string> seen;
    std::string dup;
    auto cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
      if (depth == 1 && ev == nlohmann::json::parse_event_t::key) {
        const auto k = parsed.get<std::string>();
        if (!seen.insert(k).second && dup.empty()) dup = k;
      }
      return true;
    };
    const nlohmann::json header = parse_json(text, path_ + ": header", cb);
    if (!dup.empty()) fail("{}: tensor name '{}' appears twice in the header", path_, dup);
    if (!header.is_object()) fail("{}: header is not a JSON object", path_);

    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const auto& v = it.value();
      if (name == "__metadata__") {
        if (!v.is_object()) fail("{}: '__metadata__' is not an object", path_);
        for (auto m2 = v.begin(); m2 != v.end(); ++m2) {
          if (!m2.value().is_string())
            fail("{}: '__metadata__' value of '{}' is not a string", path_, m2.key());
          metadata_[m2.key()] = m2.value().get<std::string>();
        }
        continue;
      }
      if (!v.is_object()) fail("{}: tensor '{}': entry is not an object", path_, name);
      if (!v.contains("dtype") || !v["dtype"].is_string())
        fail("{}: tensor '{}': missing or non-string 'dtype'", path_, name);
      const auto ds = v["dtype"].get<std::string>();
      const auto dt = parse_dtype(ds);
      if (!dt) fail("{}: tensor '{}': unknown dtype '{}'", path_, name, ds);
      if (!v.contains("shape")) fail("{}: tensor '{}': missing 'shape'", path_, name);
      TensorInfo t{name, *dt, parse_shape(v["shape"], path_, name), 0, 0};
      const auto& off = v.value("data_offsets", nlohmann::json());
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
          !off[1].is_number_unsigned())
        fail("{}: tensor '{}': 'data_offsets' must be two non-negative integers", path_, name);
      t.begin = off[0].get<uint64_t>();
      t.end = off[1].get<uint64_t>();
      if (t.begin > t.end)
        fail("{}: tensor '{}': data_offsets [{}, {}] are reversed", path_, name, t.begin, t.end);
      if (t.end > data_size)
        fail("{}: tensor '{}': byte range [{}, {}] lies outside the data section ({} bytes): "
             "truncated or corrupt",
             path_, name, t.begin, t.end, data_size);
      // numel × size, saturating instead of overflowing (a zero dimension makes it 0 whatever the
      // others are).
      uint64_t want = dtype_size(*dt);
      bool overflow = false;
      if (std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end()) {
        want = 0;
      } else {
        for (int64_t d : t.shape) {
          if (want > std::numeric_limits<uint64_t>::max() / uint64_t(d)) {
            overflow = true;
            break;
          }
          want *= uint64_t(d);
        }
      }
      if (overflow || want != t.end - t.begin)
        fail("{}: tensor '{}': shape {} of {} needs {} bytes but data_offsets give {}", path_, name,
             shape_str(t.shape), ds, overflow ? std::string("over 2^64") : std::to_string(want),
             t.end - t.begin);
      tensors_.push_back(std::move(t));
    }
    // Overlap check on ranges sorted by start.
    std::vector<const TensorInfo*> by_off;
    for (const auto& t : tensors_) by_off.push_back(&t);
    std::sort(by_off.begin(), by_off.end(),
              [](auto* a, auto* b) { return a->begin < b->begin || (a->begin == b->begin && a->end < b->end); });
    for (size_t i = 1; i < by_off.size(); ++i) {
      const auto *a = by_off[i - 1], *b = by_off[i];
      if (b->begin < a->end)
        fail("{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", path_, a->name, a->begin, a->end,
             b->name, b->begin, b->end);
    }
    std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  } catch (...) {
    ::munmap(const_cast<std::byte*>(map_), size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<std::byte*>(map_), size_);
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept
    : path_(std::move(o.path_)),
      map_(o.map_),
      size_(o.size_),
      data_(o.data_),
      tensors_(std::move(o.tensors_)),
      metadata_(std::move(o.metadata_)) {
  o.map_ = nullptr;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, std::string_view n) { return t.name < n; });
  return (it != tensors_.end() && it->name == name) ? &*it : nullptr;
}

std::span<const std::byte> SafetensorsFile::bytes(const TensorInfo& t) const {
  return {data_ + t.begin, size_t(t.end - t.begin)};
}

Tensor SafetensorsFile::read_f32(const TensorInfo& t) const {
  Tensor out(t.shape);
  if (out.empty()) return out;  // zero-size: out.ptr() is null, and memcpy(nullptr, p, 0) is UB
  convert_to_f32(t.dtype, bytes(t).data(), size_t(out.numel()), out.ptr());
  if (is_float(t.dtype)) {
    for (int64_t i = 0; i < out.numel(); ++i)
      if (!std::isfinite(out.data[size_t(i)]))
        fail("{}: tensor '{}' holds a non-finite value ({}) at flat index {}", path_, t.name,
             out.data[size_t(i)], i);
  }
  return out;
}

void SafetensorsFile::release(const TensorInfo& t) const {
  const auto page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const auto b = uintptr_t(data_ + t.begin), e = uintptr_t(data_ + t.end);
  const uintptr_t b0 = (b + page - 1) / page * page, e0 = e / page * page;  // whole pages only
  if (e0 > b0) ::madvise(reinterpret_cast<void*>(b0), e0 - b0, MADV_DONTNEED);
}

Tensor SafetensorsFile::read_f32(std::string_view name) const {
  const auto* t = find(name);
  if (!t) fail("{}: no tensor named '{}'", path_, name);
  return read_f32(*t);
}

namespace {

// As the reference writer: larger element sizes first, then by name, so that with the header padded
// to 8 bytes every tensor starts at a multiple of its element size (no gaps: readers such as the
// Rust safetensors crate reject holes).
bool file_order(DType da, const std::string& na, DType db, const std::string& nb) {
  const size_t sa = dtype_size(da), sb = dtype_size(db);
  return sa != sb ? sa > sb : na < nb;
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(const std::string& path, std::vector<TensorSpec> tensors,
                                     const std::map<std::string, std::string>& metadata)
    : path_(path) {
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
    return file_order(a.dtype, a.name, b.dtype, b.name);
  });
  std::set<std::string_view> names;
  for (const auto& t : tensors) {
    if (!names.insert(t.name).second) fail("{}: tensor name '{}' given twice", path, t.name);
    if (t.name == "__metadata__") fail("{}: '__metadata__' cannot be a tensor name", path);
  }
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t off = 0;
  for (auto& t : tensors) {
    const uint64_t n = uint64_t(shape_numel(t.shape)) * dtype_size(t.dtype);
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {off, off + n}}};
    layout_.push_back({std::move(t.name), t.dtype, std::move(t.shape), off, off + n});
    off += n;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  const uint64_t hn = h.size();
  file_ = std::make_unique<AtomicFile>(path);
  file_->write(&hn, 8);
  file_->write(h);
}

SafetensorsWriter::~SafetensorsWriter() = default;

void SafetensorsWriter::skip_empty() {
  while (next_ < layout_.size() && layout_[next_].begin == layout_[next_].end) ++next_;
}

void SafetensorsWriter::append(std::string_view name, std::span<const std::byte> bytes) {
  if (!file_) fail("{}: data appended after commit", path_);
  if (bytes.empty()) return;
  skip_empty();
  if (next_ == layout_.size())
    fail("{}: data appended for tensor '{}' but every tensor is complete", path_, name);
  const auto& t = layout_[next_];
  if (t.name != name)
    fail(
        "{}: data appended for tensor '{}' while '{}' is incomplete (data must follow the file's "
        "tensor order)",
        path_, name, t.name);
  if (bytes.size() > t.end - t.begin - done_)
    fail("{}: tensor '{}': {} bytes appended at byte {} run past its end ({} bytes)", path_, name,
         bytes.size(), done_, t.end - t.begin);
  file_->write(bytes.data(), bytes.size());
  done_ += bytes.size();
  if (done_ == t.end - t.begin) {
    ++next_;
    done_ = 0;
  }
}

void SafetensorsWriter::commit() {
  if (!file_) fail("{}: committed twice", path_);
  skip_empty();
  if (next_ != layout_.size())
    fail("{}: tensor '{}' is incomplete ({} of {} bytes) at commit", path_, layout_[next_].name,
         done_, layout_[next_].end - layout_[next_].begin);
  file_->commit();
  file_.reset();
}

void write_safetensors(const std::string& path, std::vector<TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  std::map<std::string_view, std::span<const std::byte>> data;
  for (const auto& t : tensors) {
    const uint64_t n = uint64_t(shape_numel(t.shape)) * dtype_size(t.dtype);
    if (n != t.bytes.size())
      fail("{}: tensor '{}': shape {} needs {} bytes, got {}", path, t.name, shape_str(t.shape), n,
           t.bytes.size());
    specs.push_back({t.name, t.dtype, t.shape});
    data[t.name] = t.bytes;
  }
  SafetensorsWriter w(path, std::move(specs), metadata);
  for (const auto& t : w.layout()) w.append(t.name, data.at(t.name));
  w.commit();
}

TensorToWrite f32_entry(std::string name, const Tensor& t) {
  return {std::move(name), DType::F32, t.shape,
          std::as_bytes(std::span<const float>(t.data.data(), t.data.size()))};
}

}  // namespace loaq
