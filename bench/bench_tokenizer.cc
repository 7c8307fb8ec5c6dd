// Tokenizer throughput: MB/s of encode() on WikiText-2's wiki.test.raw (the whole file as one
// text, as `loaq eval` tokenizes it), one thread, for every tokenizer in $LOAQ_ASSETS/tokenizers
// (or the tokenizer files / directories given as arguments). Best of --repeat runs.
//
//   loaq_bench_tokenizer [--repeat N] [--text FILE] [TOKENIZER...]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "text/datasets.h"
#include "text/tokenizer.h"

namespace fs = std::filesystem;

namespace {

std::string assets_dir() {
  if (const char* e = std::getenv("LOAQ_ASSETS"); e && *e) return e;
  return (fs::path(LOAQ_SOURCE_DIR) / ".." / "shared").lexically_normal().string();
}

// Every tokenizer file under <assets>/tokenizers: the tokenizer.json of each directory, and the
// tokenizer.model too (so both families are measured).
std::vector<std::string> default_tokenizers() {
  std::vector<std::string> out;
  const fs::path root = fs::path(assets_dir()) / "tokenizers";
  if (!fs::is_directory(root)) return out;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    if (fs::exists(d / "tokenizer.json")) out.push_back((d / "tokenizer.json").string());
    if (fs::exists(d / "tokenizer.model")) out.push_back((d / "tokenizer.model").string());
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int repeat = 3;
    std::string text_path = assets_dir() + "/data/wikitext2/wiki.test.raw";
    std::vector<std::string> paths;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--repeat" && i + 1 < argc) {
        repeat = std::max(1, std::atoi(argv[++i]));
      } else if (a == "--text" && i + 1 < argc) {
        text_path = argv[++i];
      } else {
        paths.push_back(a);
      }
    }
    if (paths.empty()) paths = default_tokenizers();
    if (paths.empty()) loaq::fail("no tokenizers found (set LOAQ_ASSETS or give paths)");
    const std::string text = loaq::read_file(text_path);
    const double mb = double(text.size()) / 1e6;
    fmt::print("text: {} ({:.2f} MB), one thread, best of {}\n", text_path, mb, repeat);
    fmt::print("{:<52} {:>10} {:>9} {:>9}\n", "tokenizer", "tokens", "load s", "MB/s");
    for (const auto& p : paths) {
      auto t0 = std::chrono::steady_clock::now();
      const auto tok = loaq::load_tokenizer(p);
      const double load = seconds_since(t0);
      double best = 1e30;
      size_t n = 0;
      for (int r = 0; r < repeat; ++r) {
        t0 = std::chrono::steady_clock::now();
        n = tok->encode(text).size();
        best = std::min(best, seconds_since(t0));
      }
      fmt::print("{:<52} {:>10} {:>9.2f} {:>9.2f}\n", p, n, load, mb / best);
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "loaq_bench_tokenizer: error: {}\n", e.what());
    return 1;
  }
}
