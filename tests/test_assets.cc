#include "test_assets.h"

#include <cstdlib>
#include <filesystem>

namespace loaq::test {

namespace fs = std::filesystem;

std::optional<std::string> assets_dir() {
  fs::path p;
  if (const char* e = std::getenv("LOAQ_ASSETS"); e && *e) {
    p = e;
  } else {
    p = fs::path(LOAQ_SOURCE_DIR) / ".." / "shared";
  }
  if (!fs::is_directory(p)) return std::nullopt;
  return p.lexically_normal().string();
}

std::optional<std::string> asset(const std::string& rel) {
  const auto d = assets_dir();
  if (!d) return std::nullopt;
  const auto p = fs::path(*d) / rel;
  if (!fs::exists(p)) return std::nullopt;
  return p.string();
}

}  // namespace loaq::test
