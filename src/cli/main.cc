// loaq: post-training quantization of LLaMA / Qwen checkpoints. Entry point and error policy:
// every loaq::Error ends the run with its message on stderr and exit code 1; a bad command line
// (unknown option, a value out of range) exits 2; anything else is a bug and exits 3.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <ostream>

#include "cli/commands.h"
#include "core/error.h"
#include "dist/dist.h"

namespace loaq::cli {

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    const size_t e = std::min(s.find(',', b), s.size());
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

std::string default_assets_dir() {
  if (const char* e = std::getenv("LOAQ_ASSETS"); e && *e) return e;
  return (std::filesystem::path(LOAQ_SOURCE_DIR) / ".." / "shared").lexically_normal().string();
}

}  // namespace loaq::cli

int main(int argc, char** argv) {
  CLI::App app{"loaq: layer-wise post-training quantization of LLaMA / Qwen models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "loaq 0.1.0");
  const std::vector<std::pair<std::string, loaq::cli::Runner>> commands = {
      {"quantize", loaq::cli::add_quantize(app)}, {"eval", loaq::cli::add_eval(app)},
      {"sweep", loaq::cli::add_sweep(app)},       {"layer", loaq::cli::add_layer(app)},
      {"tokenize", loaq::cli::add_tokenize(app)}, {"export", loaq::cli::add_export(app)},
      {"inspect", loaq::cli::add_inspect(app)},   {"bench", loaq::cli::add_bench(app)},
      {"calib", loaq::cli::add_calib(app)},
  };
  try {
    const loaq::dist::Session session(&argc, &argv);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      // --help and --version exit 0; every other command-line error exits 2. Every rank parses
      // the same arguments; rank 0 says it.
      std::ostream silent(nullptr);
      const int rc = loaq::dist::is_root() ? app.exit(e) : app.exit(e, silent, silent);
      return rc == 0 ? 0 : 2;
    }
    for (auto* sub : app.get_subcommands())
      for (const auto& [name, run] : commands)
        if (sub->get_name() == name) {
          // The commands that split their work; the others refuse several ranks, said by rank 0
          // (every rank reaches this point with the same arguments).
          if (loaq::dist::size() > 1 && name != "eval" && name != "quantize" && name != "sweep") {
            if (loaq::dist::is_root())
              fmt::print(stderr,
                         "loaq: error: `loaq {}` does not run on several MPI ranks yet; run it as "
                         "one process\n",
                         name);
            loaq::dist::finalize();
            return 1;
          }
          return run();
        }
    return 2;
  } catch (const loaq::Error& e) {
    return loaq::dist::fail_job("error", e.what(), 1);
  } catch (const std::bad_alloc&) {
    return loaq::dist::fail_job("error", "out of memory", 1);
  } catch (const std::exception& e) {
    return loaq::dist::fail_job("internal error", e.what(), 3);
  }
}
