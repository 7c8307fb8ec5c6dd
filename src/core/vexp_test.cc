#include "core/vexp.h"

#include <gtest/gtest.h>

namespace loaq {
namespace {

TEST(Vexp, MatchesStdExp) {
  double worst = 0;
  for (float x = -87.0f; x < 88.3f; x += 0.00137f) {
    const double want = std::exp(double(x));
    worst = std::max(worst, std::abs(double(vexpf(x)) - want) / want);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(vexpf(0.0f), 1.0f);
  EXPECT_LT(vexpf(-1000.0f), 1e-37f);
  EXPECT_GT(vexpf(-1000.0f), 0.0f);
}

}  // namespace
}  // namespace loaq
