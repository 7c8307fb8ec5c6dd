#pragma once
// Where tests find ../shared: $LOAQ_ASSETS, else ../shared beside the repository root.
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace loaq::test {

// The assets folder, or nullopt when it does not exist.
std::optional<std::string> assets_dir();
// The path of `rel` inside the assets folder, or nullopt when it is absent.
std::optional<std::string> asset(const std::string& rel);

}  // namespace loaq::test

// Skips the current test (with a message naming the file) when the asset is absent.
#define LOAQ_REQUIRE_ASSET(var, rel)                                                      \
  const auto var##_opt = ::loaq::test::asset(rel);                                      \
  if (!var##_opt) GTEST_SKIP() << "asset '" << (rel) << "' not found (set LOAQ_ASSETS)"; \
  const std::string var = *var##_opt
