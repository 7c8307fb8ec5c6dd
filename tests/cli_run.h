#pragma once
// Running the `loaq` binary from end-to-end tests: arguments as a vector (no shell), stdout and
// stderr captured together, the exit status or the signal that ended it.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace loaq::test {

struct CliResult {
  bool signaled = false;
  int signal = 0;
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved

  // Exit status 1 with "error" in the output, and no crash, internal error or sanitizer report.
  bool clean_failure() const {
    return !signaled && exit_code == 1 && output.find("error") != std::string::npos &&
           output.find("internal error") == std::string::npos &&
           output.find("Sanitizer") == std::string::npos &&
           output.find("runtime error") == std::string::npos;
  }
  bool has(const std::string& s) const { return output.find(s) != std::string::npos; }
};

// Runs the program all[0] (a path) with arguments all[1..].
inline CliResult run_command(std::vector<std::string> all) {
  CliResult r;
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (err != 0) {
    ::close(fds[0]);
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(err);
    return r;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      r.output.append(buf, size_t(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    r.signaled = true;
    r.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  }
  return r;
}

// Runs LOAQ_BINARY with `args`.
inline CliResult run_loaq(const std::vector<std::string>& args) {
  std::vector<std::string> all = {LOAQ_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  return run_command(std::move(all));
}

// A process id that was in use a moment ago and no longer is (a child that has exited and been
// reaped).
inline pid_t dead_pid() {
  const pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  int st = 0;
  ::waitpid(p, &st, 0);
  return p;
}

}  // namespace loaq::test
