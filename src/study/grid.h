#pragma once
// The jobs of an experiment: the Cartesian product of models × seeds × every quantize axis, each
// resolved (options that do not apply to its method removed), validated (conflicting settings
// dropped with the reason) and deduplicated (a combination whose resolved settings equal an
// earlier job's is dropped, naming it). A job's hash is that of its resolved settings and of the
// experiment's evaluation.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "study/experiment.h"

namespace loaq::study {

struct Job {
  std::string hash;        // 16 hex digits: the folder name
  std::string label;       // the settings that vary across the grid, "gptq wbits=2 seed=1"
  std::string model;       // the model folder (resolved path)
  std::string model_name;  // as written in the experiment
  bool seeded = true;      // false when the calibration seed does not matter (method none, RTN)
  uint64_t seed = 0;
  std::vector<std::pair<std::string, std::string>> options;  // resolved, in option-table order
  std::string canonical;                                     // the text hashed

  // The value of a setting ("model", "seed" or an option), or "" when it is absent.
  std::string get(const std::string& key) const;
  std::string method() const { return get("method"); }
};

struct DroppedJob {
  std::string label, reason;
};

struct JobGrid {
  std::vector<Job> jobs;
  std::vector<DroppedJob> dropped;
};

// The largest grid expand_grid makes (the paper's largest is a few hundred jobs).
inline constexpr int64_t kMaxGridJobs = 100000;

// The grid's size before anything is dropped: models × seeds × every quantize list (as a double,
// so that a hostile file cannot overflow it).
inline double grid_size(const Experiment& e) {
  double jobs = double(e.models.size()) * double(e.seeds.size());
  for (const auto& a : e.quantize) jobs *= double(a.values.size());
  return jobs;
}

// `assets` is the shared assets folder: a model name without '/' is looked up under
// assets/models first. Relative paths are relative to the experiment file's folder. A model folder
// that does not exist is an error unless `allow_missing_models` (--dry-run: the paper's models).
JobGrid expand_grid(const Experiment& e, const std::string& assets,
                    bool allow_missing_models = false);

// The `loaq quantize` arguments of a job (without the binary, --out, --json and --threads).
std::vector<std::string> quantize_args(const Job& j);
// The `loaq eval` arguments (without --model, --json and --threads); empty when the experiment
// evaluates nothing.
std::vector<std::string> eval_args(const Job& j, const EvalSpec& eval);

// --only: "key=value[,key=value...]" (every pair must match a job's settings) or a hash prefix.
bool job_matches(const Job& j, const std::string& filter);

}  // namespace loaq::study
