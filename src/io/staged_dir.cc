#include "io/staged_dir.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <system_error>

#include "core/error.h"

namespace loaq {

namespace fs = std::filesystem;

namespace {

// This host's name, reduced to characters that are safe in a file name.
std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  std::string h;
  for (const char* p = buf; *p; ++p) {
    const char c = *p;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    h += ok ? c : '_';
  }
  return h.empty() ? "localhost" : h;
}

// The process id in `entry` when it is "<prefix><pid>" or "<prefix><pid>@<host>" with <host> this
// host; 0 otherwise.
pid_t staging_pid(const std::string& entry, const std::string& prefix, const std::string& host) {
  if (!entry.starts_with(prefix)) return 0;
  const std::string rest = entry.substr(prefix.size());
  const size_t at = rest.find('@');
  const std::string digits = rest.substr(0, at);
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  if (at != std::string::npos && rest.substr(at + 1) != host) return 0;
  return pid_t(std::stol(digits));
}

bool process_is_gone(pid_t pid) {
  return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

std::string staging_name(const fs::path& out, const std::string& role) {
  return fmt::format(".{}.{}-{}@{}", out.filename().string(), role, ::getpid(), host_name());
}

std::vector<std::string> clean_stale_staging(const fs::path& out) {
  std::vector<std::string> notes;
  const fs::path parent = out.parent_path();
  const std::string name = out.filename().string(), host = host_name();
  const std::string partial = "." + name + ".partial-", old = "." + name + ".old-";
  std::error_code ec;
  std::vector<fs::path> stale_partial, stale_old;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    const std::string f = e.path().filename().string();
    if (pid_t p = staging_pid(f, partial, host); p && p != ::getpid() && process_is_gone(p))
      stale_partial.push_back(e.path());
    if (pid_t p = staging_pid(f, old, host); p && p != ::getpid() && process_is_gone(p))
      stale_old.push_back(e.path());
  }
  for (const auto& p : stale_partial) {
    fs::remove_all(p, ec);
    notes.push_back(
        ec ? fmt::format("cannot remove the stale '{}': {}", p.string(), ec.message())
           : fmt::format("removed '{}', left by a process that is no longer running", p.string()));
  }
  for (const auto& p : stale_old) {
    // A process was killed between moving the previous output aside and renaming its own into
    // place: the previous output is the only complete one.
    if (!fs::exists(out, ec)) {
      fs::rename(p, out, ec);
      notes.push_back(ec ? fmt::format("cannot restore '{}' to '{}': {}", p.string(), out.string(),
                                       ec.message())
                         : fmt::format("restored '{}' from '{}', moved aside by a process that "
                                       "is no longer running",
                                       out.string(), p.string()));
    } else {
      fs::remove_all(p, ec);
      notes.push_back(
          fmt::format("removed '{}', left by a process that is no longer running", p.string()));
    }
  }
  for (const auto& n : notes) fmt::print(stderr, "loaq: note: {}\n", n);
  return notes;
}

StagedDir::StagedDir(const std::string& out, bool force, OutputKind kind,
                     const std::vector<std::string>& inputs)
    : out_(fs::absolute(out).lexically_normal()) {
  if (out.empty()) fail("--out is required");
  if (out_.filename().empty()) out_ = out_.parent_path();
  if (!fs::is_directory(out_.parent_path()))
    fail("'{}': parent directory '{}' does not exist", out, out_.parent_path().string());
  clean_stale_staging(out_);
  check_output_target(out, force, kind, inputs);
  tmp_ = out_.parent_path() / staging_name(out_, "partial");
  std::error_code ec;
  fs::remove_all(tmp_, ec);
  if (!fs::create_directory(tmp_, ec)) fail("cannot create '{}': {}", tmp_.string(), ec.message());
}

StagedDir::~StagedDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void StagedDir::commit() {
  std::error_code ec;
  if (fs::exists(out_)) {
    const fs::path old = out_.parent_path() / staging_name(out_, "old");
    fs::remove_all(old, ec);
    fs::rename(out_, old, ec);
    if (ec) fail("cannot move the existing '{}' aside: {}", out_.string(), ec.message());
    fs::rename(tmp_, out_, ec);
    if (ec) {
      std::error_code ec2;
      fs::rename(old, out_, ec2);  // put the old directory back
      fail("cannot rename '{}' to '{}': {}", tmp_.string(), out_.string(), ec.message());
    }
    fs::remove_all(old, ec);
  } else {
    fs::rename(tmp_, out_, ec);
    if (ec) fail("cannot rename '{}' to '{}': {}", tmp_.string(), out_.string(), ec.message());
  }
  committed_ = true;
}

}  // namespace loaq
