#include "core/vmath.h"
#pragma GCC diagnostic ignored "-Wpsabi"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/vexp.h"

namespace loaq {
namespace {

// Sizes around the 16-lane and flush boundaries, against a plain double-precision loop.
TEST(Vmath, ReductionsMatchScalarReference) {
  std::mt19937 g(7);
  std::normal_distribution<float> d(0.0f, 4.0f);
  for (int64_t n : {1, 5, 15, 16, 17, 31, 1023, 1024, 1025, 4096, 5000}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = d(g);
    const float want_max = *std::max_element(x.begin(), x.end());
    EXPECT_EQ(max_of(x.data(), n), want_max) << n;
    double want = 0;
    for (float v : x) want += std::exp(double(v) - want_max);
    EXPECT_NEAR(sum_exp(x.data(), n, want_max), want, 2e-6 * want) << n;
    std::vector<float> y = x;
    EXPECT_NEAR(exp_inplace_sum(y.data(), n, want_max), want, 2e-6 * want) << n;
    for (int64_t i = 0; i < n; ++i) {
      const double e =
          std::exp(double(x[size_t(i)] - want_max));  // the argument rounded as the kernel does
      ASSERT_NEAR(y[size_t(i)], e, 3e-7 * e + 1e-38) << n << " " << i;
    }
    scale_inplace(y.data(), n, 0.5f);
    EXPECT_EQ(y[0], 0.5f * float(vexpf(x[0] - want_max))) << n;
  }
}

// The 16-lane exp agrees with the scalar one (up to FMA contraction) across the clamp range.
TEST(Vmath, VectorExpMatchesScalar) {
  F16 x;
  for (float base = -100.0f; base < 100.0f; base += 1.37f) {
    for (int k = 0; k < 16; ++k) x[k] = base + 0.0853f * float(k);
    const F16 y = vexpf16(x);
    for (int k = 0; k < 16; ++k) EXPECT_NEAR(y[k], vexpf(x[k]), 2e-7 * vexpf(x[k])) << x[k];
  }
}

}  // namespace
}  // namespace loaq
