#pragma once
// An output directory built atomically: everything is written under a temporary name beside the
// target (".<name>.partial-<pid>") and renamed into place by commit(). If anything fails first
// (a full disk included), the destructor removes the temporary directory, so no directory that
// looks complete is ever left behind.
#include <filesystem>
#include <string>

namespace loaq {

class StagedDir {
 public:
  // Refuses an existing `out` unless `force` (then it is replaced at commit, not before).
  StagedDir(const std::string& out, bool force);
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

}  // namespace loaq
