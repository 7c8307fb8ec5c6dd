#pragma once
// A job's folder, OUT/jobs/HASH/: settings.json (the resolved settings and the commands),
// quantize.log and eval.log, report.json (from `loaq quantize --json`), eval.json (`loaq eval
// --json`), model/ (the quantized checkpoint, removed once evaluated unless keep_models) and
// result.json: status, attempts, timings, peak memory and metrics, written atomically last, so a
// job is finished exactly when its result.json says "ok".
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace loaq::study {

struct JobPaths {
  std::string dir, settings, quantize_log, eval_log, report, eval_json, result, model;
};
JobPaths job_paths(const std::string& out, const std::string& hash);

struct JobResult {
  std::string hash, label;
  std::string status;  // "ok" or "failed"
  int attempts = 0;    // over every run of the driver
  std::string failed_step, error;
  double quantize_seconds = 0, eval_seconds = 0;  // wall time of each process
  double quant_seconds = 0;   // the quantization algorithm itself (report.json timings.total)
  double peak_rss_bytes = 0;  // the larger of the two processes' peaks
  std::vector<std::pair<std::string, std::string>> settings;  // model, seed, options
  std::map<std::string, double> metrics;
  // What the bits depend on beyond the settings: the BLAS kernels (core/blas.h) and the threads
  // of each process. Empty / 0 in results written before they were recorded.
  std::string blas_kernels;
  int threads = 0;
  bool ok() const { return status == "ok"; }
};

// result.json; nullopt when the file does not exist. A malformed file is an error naming it.
std::optional<JobResult> read_result(const std::string& path);
void write_result(const std::string& path, const JobResult& r);

// Metrics of a finished job from its quantize report and eval output (either may be absent):
// every perplexity under its dataset name, each task's score in % (acc_norm for arc_challenge and
// hellaswag, acc otherwise, as the paper's table), acc (the paper's Acc, %), quant_seconds,
// quant_minutes, peak_rss_gib; with low-rank branches branch_mb (deployed bytes / 1e6), branch_pct
// (of the source model at 16 bits per parameter), lowrank_seconds and lowrank_pct_time (of
// quant_seconds).
std::map<std::string, double> collect_metrics(const std::string& report_path,
                                              const std::string& eval_path);

}  // namespace loaq::study
