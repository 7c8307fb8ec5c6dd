#include "study/options.h"

#include <algorithm>

namespace loaq::study {

const std::vector<QuantizeOption>& quantize_options() {
  static const std::vector<QuantizeOption> kOptions = {
      {"method", false, {}},
      {"wbits", false, {}},
      {"group", false, {}},
      {"sym", true, {}},
      {"grid", false, {}},
      {"gguf-fit", false, {}},
      {"mse", true, {}},
      {"act-order", true, {"gptq", "gptaq", "qronos", "loaq"}},
      {"static-groups", true, {"gptq", "gptaq", "qronos", "loaq"}},
      {"percdamp", false, {"gptq", "gptaq", "qronos", "loaq"}},
      {"blocksize", false, {"gptq", "gptaq", "qronos", "loaq"}},
      {"alpha", false, {"loaq"}},
      {"beta", false, {"loaq"}},
      {"no-noa", true, {"loaq"}},
      {"no-soa", true, {"loaq"}},
      {"gptaq-alpha", false, {"gptaq"}},
      {"qronos-alpha", false, {"qronos"}},
      {"abits", false, {"none", "rtn", "gptq", "gptaq", "qronos", "loaq"}},
      {"a-clip", false, {"none", "rtn", "gptq", "gptaq", "qronos", "loaq"}},
      {"calib", false, {}},
      {"calib-ids", false, {}},
      {"nsamples", false, {}},
      {"seqlen", false, {}},
      {"rotate", false, {"none", "rtn", "gptq", "gptaq", "qronos", "loaq"}},
      {"rotate-seed", false, {"none", "rtn", "gptq", "gptaq", "qronos", "loaq"}},
      {"stream-dtype", false, {}},
      {"chunk-samples", false, {}},
      {"cache-bytes", false, {}},
      {"max-memory", false, {"none", "rtn", "gptq", "gptaq", "qronos", "loaq"}},
      // The low-rank branch (issue 14); every option but --lowrank applies only with a branch.
      {"lowrank", false, {}},
      {"rank", false, {}},
      {"lowrank-bits", false, {}},
      {"lowrank-first", true, {}},
      {"lowrank-weighted", true, {}},
      {"lowrank-steps", false, {}},
      {"lowrank-lr", false, {}},
      {"lowrank-patience", false, {}},
      {"lowrank-svd", false, {}},
      {"lowrank-seed", false, {}},
  };
  return kOptions;
}

std::string normalize_option_name(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

std::optional<QuantizeOption> find_quantize_option(const std::string& name) {
  const std::string n = normalize_option_name(name);
  for (const auto& o : quantize_options())
    if (o.name == n) return o;
  return std::nullopt;
}

const std::vector<std::string>& reserved_options() {
  static const std::vector<std::string> kReserved = {
      "model",      "out",     "force", "resume", "json", "eval", "eval-seqlen", "export",
      "export-dir", "threads", "quiet", "q",      "seed", "data", "no-bos"};
  return kReserved;
}

}  // namespace loaq::study
