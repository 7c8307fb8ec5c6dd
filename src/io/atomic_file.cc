#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace loaq {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  tmp_ = fmt::format("{}.tmp.{}", path_, ::getpid());
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) fail("cannot create '{}': {}", tmp_, std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (f_) std::fclose(f_);
  if (!committed_) std::remove(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  if (n == 0) return;
  if (std::fwrite(data, 1, n, f_) != n)
    fail("cannot write '{}': {} (nothing was written to '{}')", tmp_, std::strerror(errno), path_);
}

void AtomicFile::commit() {
  const bool ok_flush = std::fflush(f_) == 0;
  const int err_flush = errno;
  const bool ok_sync = ok_flush && ::fsync(fileno(f_)) == 0;
  const int err_sync = errno;
  const bool ok_close = std::fclose(f_) == 0;
  const int err_close = errno;
  f_ = nullptr;
  if (!ok_flush || !ok_sync || !ok_close)
    fail("cannot write '{}': {} (nothing was written to '{}')", tmp_,
         std::strerror(!ok_flush ? err_flush : !ok_sync ? err_sync : err_close), path_);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    fail("cannot rename '{}' to '{}': {}", tmp_, path_, std::strerror(errno));
  committed_ = true;
}

void write_file_atomic(const std::string& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

}  // namespace loaq
