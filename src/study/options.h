#pragma once
// The `loaq quantize` options an experiment may set, and the methods each one applies to. An
// option that does not apply to a job's method is removed from the job's resolved settings, so
// grids such as method × alpha collapse to one GPTQ job instead of several identical ones.
#include <optional>
#include <string>
#include <vector>

namespace loaq::study {

struct QuantizeOption {
  std::string name;                  // as on the command line, without "--"
  bool flag = false;                 // a switch: true → "--name", false → omitted
  std::vector<std::string> methods;  // methods it applies to; empty: every quantizing method
};

// Every option of `loaq quantize` that an experiment may vary.
const std::vector<QuantizeOption>& quantize_options();
// The option called `name` ("no_soa" and "no-soa" are the same), or nullopt.
std::optional<QuantizeOption> find_quantize_option(const std::string& name);
// "no_soa" → "no-soa".
std::string normalize_option_name(std::string name);
// Options the job runner sets itself (output, threads, ...): an experiment may not set them.
const std::vector<std::string>& reserved_options();

}  // namespace loaq::study
