// `loaq inspect DIR`: architecture, parameters, tensors by dtype, quantization, disk size and a
// validation pass over every file of a checkpoint directory (export/inspect.h).
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "export/gguf_import.h"
#include "export/gguf_inspect.h"
#include "export/inspect.h"
#include "io/atomic_file.h"

namespace loaq::cli {

namespace {

struct InspectArgs {
  std::string dir, json;
  bool headers_only = false;
};

int run_inspect(const InspectArgs& a) {
  if (is_gguf_file(a.dir)) {
    const GgufInspection r = inspect_gguf(a.dir, a.headers_only);
    fmt::print("{}", r.text);
    if (!r.problems.empty())
      fail("{}: {} problem(s) found (listed above)", a.dir, r.problems.size());
    return 0;
  }
  InspectOptions o;
  o.read_data = !a.headers_only;
  const InspectResult r = inspect_checkpoint(a.dir, o);
  fmt::print("{}", format_inspect(r));
  if (!a.json.empty()) write_file_atomic(a.json, r.info.dump(2) + "\n");
  if (!r.problems.empty()) fail("{}: {} problem(s) found (listed above)", a.dir, r.problems.size());
  return 0;
}

}  // namespace

Runner add_inspect(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect", "Describe and validate a checkpoint directory");
  cmd->add_option("DIR", a->dir,
                  "Checkpoint directory (Hugging Face, loaq quantize output, GPTQ) or GGUF file")
      ->required();
  cmd->add_option("--json", a->json, "Also write the description as JSON to this file");
  cmd->add_flag("--headers-only", a->headers_only,
                "Check headers and shapes only, without reading tensor data");
  return [a] { return run_inspect(*a); };
}

}  // namespace loaq::cli
