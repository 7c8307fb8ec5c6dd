#include "pipeline/streams.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "io/atomic_file.h"

namespace loaq {

Stream::Stream(DType dtype, int64_t windows, int64_t seqlen, int64_t hidden)
    : dtype_(dtype), windows_(windows), seqlen_(seqlen), hidden_(hidden) {
  const auto n = size_t(windows * seqlen * hidden);
  if (dtype == DType::F32)
    f32_.assign(n, 0.0f);
  else if (dtype == DType::BF16)
    bf16_.assign(n, 0);
  else
    fail("stream dtype {}: choose f32 or bf16", dtype_name(dtype));
}

Tensor Stream::read(int64_t w0, int64_t w1) const {
  Tensor x({(w1 - w0) * seqlen_, hidden_});
  const size_t off = size_t(w0 * seqlen_ * hidden_), n = size_t(x.numel());
  if (dtype_ == DType::F32)
    std::copy_n(f32_.begin() + std::ptrdiff_t(off), n, x.data.begin());
  else
    for (size_t i = 0; i < n; ++i) x.data[i] = bf16_to_f32(bf16_[off + i]);
  return x;
}

void Stream::write(int64_t w0, const Tensor& rows) {
  const size_t off = size_t(w0 * seqlen_ * hidden_), n = size_t(rows.numel());
  if (off + n > std::max(f32_.size(), bf16_.size()))
    fail("internal error: stream write past its end");
  if (dtype_ == DType::F32)
    std::copy_n(rows.data.begin(), n, f32_.begin() + std::ptrdiff_t(off));
  else
    for (size_t i = 0; i < n; ++i) bf16_[off + i] = f32_to_bf16(rows.data[i]);
}

int64_t Stream::bytes() const { return bytes_for(dtype_, windows_, seqlen_, hidden_); }

int64_t Stream::bytes_for(DType dtype, int64_t windows, int64_t seqlen, int64_t hidden) {
  return int64_t(dtype_size(dtype)) * windows * seqlen * hidden;
}

void Stream::save(const std::string& path) const {
  AtomicFile f(path);
  const void* p = dtype_ == DType::F32 ? static_cast<const void*>(f32_.data())
                                       : static_cast<const void*>(bf16_.data());
  f.write(p, size_t(bytes()));
  f.commit();
}

void Stream::load(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("cannot open '{}': {}", path, std::strerror(errno));
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (size != bytes()) {
    std::fclose(f);
    fail("{}: {} bytes, expected {} ({} windows × {} × {} {})", path, size, bytes(), windows_,
         seqlen_, hidden_, dtype_name(dtype_));
  }
  void* p = dtype_ == DType::F32 ? static_cast<void*>(f32_.data())
                                 : static_cast<void*>(bf16_.data());
  const size_t got = std::fread(p, 1, size_t(size), f);
  std::fclose(f);
  if (got != size_t(size)) fail("{}: short read ({} of {} bytes)", path, got, size);
}

}  // namespace loaq
