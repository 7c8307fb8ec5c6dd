#pragma once
// Helpers of the libFuzzer harnesses: the readers take file paths, so each input is written to a
// file of this process first (under $TMPDIR, removed at exit by the OS's tmp cleanup or the
// script; one name per process, rewritten for every input).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace loaq::fuzz {

// A directory of this process for the harness's files.
inline const std::filesystem::path& work_dir() {
  static const std::filesystem::path d = [] {
    auto p = std::filesystem::temp_directory_path() / ("loaq-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p;
  }();
  return d;
}

// Writes `bytes` to `path` (replacing it).
inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
    __builtin_trap();
  std::fclose(f);
}

inline std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace loaq::fuzz
