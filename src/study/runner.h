#pragma once
// Runs the jobs of an experiment, each as its own `loaq quantize` then `loaq eval` process, N at a
// time with the cores split between them (--threads and OMP_NUM_THREADS). A job whose result.json
// says "ok" is skipped, so a rerun resumes; a failed one is rerun, up to `retry` more times in this
// run. result.json is written atomically after the job's processes ended, so killing the driver
// (whose running children die with it) loses only the jobs that were running. One line per
// finished job, an overall bar with ETA on a terminal, a summary of failures at the end.
#include <string>
#include <vector>

#include "study/experiment.h"
#include "study/grid.h"
#include "study/job_result.h"

namespace loaq::study {

struct RunOptions {
  std::string out;   // the experiment's output folder
  std::string loaq;  // the loaq executable
  int jobs = 1;      // jobs at a time
  int retry = 0;     // extra attempts for a job that fails
  int threads = 0;   // cores to split between the jobs (0: all of this machine's)
  bool progress = true;
  // A folder of finished results kept across machines (e.g. committed beside the experiment):
  // ARCHIVE/HASH.json is a job's result.json. Before running, each job without an "ok" result in
  // `out` takes the archive's, when it has one; every job that finishes ok is copied there.
  std::string archive;
};

struct RunSummary {
  int total = 0, skipped = 0, ok = 0, failed = 0;
  int restored = 0;  // of the skipped: results taken from the archive
  std::vector<JobResult> failures;
  double seconds = 0;
};

RunSummary run_jobs(const Experiment& e, const std::vector<Job>& jobs, const RunOptions& o);

// Status of a job folder for --dry-run: "done", "failed (N attempts)" or "pending".
std::string job_status(const std::string& out, const Job& j);

// Holds an exclusive lock on OUT/.lock while alive: a second driver on the same folder is refused.
class OutLock {
 public:
  explicit OutLock(const std::string& out);
  ~OutLock();
  OutLock(const OutLock&) = delete;
  OutLock& operator=(const OutLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace loaq::study
