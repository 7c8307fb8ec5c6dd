#pragma once
// Running one step of a job as its own process: stdout and stderr appended to a log file, a set of
// environment overrides, the exit status and the child's peak RSS. The child is killed when the
// thread that started it ends (PR_SET_PDEATHSIG), so a killed driver leaves no orphan writing
// into a job folder.
#include <string>
#include <utility>
#include <vector>

namespace loaq::study {

struct ProcessResult {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  double seconds = 0;
  long peak_rss_kib = 0;  // getrusage of the child (ru_maxrss)
  bool ok() const { return signal == 0 && exit_code == 0; }
  std::string describe() const;  // "exit code 2", "killed by signal 9"
};

// Runs `argv` (argv[0]: the program's path) with `env` set on top of this process's environment;
// throws loaq::Error when the log cannot be opened or the process cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::pair<std::string, std::string>>& env,
                          const std::string& log_path);

// The path of the running executable (/proc/self/exe).
std::string self_executable();
// `name` found on PATH, or "".
std::string find_on_path(const std::string& name);

}  // namespace loaq::study
