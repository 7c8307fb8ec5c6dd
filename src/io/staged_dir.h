#pragma once
// An output directory built atomically: everything is written under a temporary name beside the
// target (".<name>.partial-<pid>@<host>") and renamed into place by commit(). If anything fails
// first (a full disk included), the destructor removes the temporary directory, so no directory
// that looks complete is ever left behind. A process killed outright (kill -9, power loss) cannot
// clean up: the next StagedDir of the same target removes the temporary directories (and restores
// a previous output moved aside) of dead processes of this host, and says so on stderr.
#include <filesystem>
#include <string>
#include <vector>

#include "io/output_target.h"

namespace loaq {

class StagedDir {
 public:
  // Checks the target (io/output_target.h: never an input, never a file, with `force` only a
  // directory of the same kind; an existing one is replaced at commit, not before), then creates
  // the temporary directory.
  StagedDir(const std::string& out, bool force, OutputKind kind,
            const std::vector<std::string>& inputs);
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;

  // The temporary directory to write into.
  const std::filesystem::path& path() const { return tmp_; }
  std::string file(const std::string& name) const { return (tmp_ / name).string(); }
  // Moves the temporary directory to the target (an existing target is moved aside first and
  // removed after).
  void commit();

 private:
  std::filesystem::path out_, tmp_;
  bool committed_ = false;
};

// The name of this process's staging entry of `out` with the given role ("partial", "old"):
// ".<name>.<role>-<pid>@<host>".
std::string staging_name(const std::filesystem::path& out, const std::string& role);

// Removes the ".<name>.partial-<pid>[@<host>]" directories beside `out` whose process is no
// longer running on this host (a name without a host is taken as this host's), and puts back a
// ".<name>.old-…" directory of such a process when `out` is missing (else removes it). Returns one
// line per action, already printed to stderr as a note.
std::vector<std::string> clean_stale_staging(const std::filesystem::path& out);

}  // namespace loaq
