// libFuzzer harness: an experiment file (YAML) of `loaq bench`: parsed and validated, its grid
// expanded (the models may be missing, as with --dry-run), and every job's quantize and eval
// command lines made. Every bad input must end in loaq::Error.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "study/experiment.h"
#include "study/grid.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(loaq::fuzz::as_view(data, size));
  try {
    const loaq::study::Experiment e = loaq::study::parse_experiment(text, "fuzz.yaml");
    // Grids above 1,000 jobs are valid but slow to expand under the sanitizers (tens of thousands
    // of jobs take seconds): they are parsed only, beyond kMaxGridJobs refused (Grid unit test).
    const double jobs = loaq::study::grid_size(e);
    if (jobs > 1000 && jobs <= double(loaq::study::kMaxGridJobs)) return 0;
    const auto grid = loaq::study::expand_grid(e, loaq::fuzz::work_dir().string(), true);
    for (const auto& j : grid.jobs) {
      (void)loaq::study::quantize_args(j);
      (void)loaq::study::eval_args(j, e.eval);
    }
  } catch (const loaq::Error&) {
  }
  return 0;
}
