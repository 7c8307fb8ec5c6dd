#include "export/staged_dir.h"

#include <fmt/format.h>
#include <unistd.h>

#include <system_error>

#include "core/error.h"

namespace loaq {

namespace fs = std::filesystem;

StagedDir::StagedDir(const std::string& out, bool force)
    : out_(fs::absolute(out).lexically_normal()) {
  if (out.empty()) fail("--out is required");
  if (out_.filename().empty()) out_ = out_.parent_path();
  if (fs::exists(out_) && !force)
    fail("output directory '{}' exists (use --force to replace it)", out);
  if (!fs::is_directory(out_.parent_path()))
    fail("'{}': parent directory '{}' does not exist", out, out_.parent_path().string());
  tmp_ = out_.parent_path() / fmt::format(".{}.partial-{}", out_.filename().string(), ::getpid());
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
    const fs::path old =
        out_.parent_path() / fmt::format(".{}.old-{}", out_.filename().string(), ::getpid());
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
