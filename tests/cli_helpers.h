#pragma once
// Helpers of the end-to-end tests that run the `loaq` binary: a shell command with its output and
// exit status, a temporary directory, and file comparison.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace loaq::test {

// Runs `cmd` through the shell with stderr merged into stdout; the exit status (128 + signal when
// killed).
inline int run(const std::string& cmd, std::string* out = nullptr) {
  const std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  std::string s;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) s.append(buf, n);
  const int st = pclose(p);
  if (out) *out = s;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

struct TempDir {
  std::filesystem::path p;
  explicit TempDir(const std::string& tag = "t")
      : p(std::filesystem::temp_directory_path() /
          ("loaq_" + tag + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(p);
    std::filesystem::create_directories(p);
  }
  ~TempDir() { std::filesystem::remove_all(p); }
};

inline std::string read_all(const std::filesystem::path& f) {
  std::ifstream in(f, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_all(const std::filesystem::path& f, const std::string& bytes) {
  std::ofstream(f, std::ios::binary) << bytes;
}

// The regular files below `dir`, relative and sorted.
inline std::vector<std::string> files_below(const std::filesystem::path& dir) {
  std::vector<std::string> v;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) v.push_back(std::filesystem::relative(e.path(), dir).string());
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace loaq::test
