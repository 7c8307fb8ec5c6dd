#pragma once
// Writing files so that a reader never sees half of one: write to a temporary name beside the target,
// flush to disk, then rename over the target. Any failure (full disk included) removes the temporary
// file and throws loaq::Error naming the target.
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace loaq {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // removes the temporary file unless commit() succeeded
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // Flushes, fsyncs and renames onto the target path.
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

// Writes `content` to `path` atomically.
void write_file_atomic(const std::string& path, std::string_view content);

}  // namespace loaq
