#include "model/act_quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"

namespace loaq {
namespace {

// Each output is the point of the row's grid {scale·(c − zero) : c = 0…2^b−1} nearest to the
// input (the grid built here in double from the definition), ties allowed either way.
TEST(ActQuant, EveryValueGoesToItsNearestGridPoint) {
  std::mt19937 g(3);
  std::normal_distribution<float> d(0.3f, 2.0f);
  for (int bits : {2, 4, 8})
    for (float clip : {1.0f, 0.9f}) {
      const int64_t rows = 5, cols = 37;
      std::vector<float> x(size_t(rows * cols));
      for (auto& v : x) v = d(g);
      x[3] = 9.0f;  // a large outlier, clipped when clip < 1
      std::vector<float> y = x;
      quantize_activations({bits, clip}, y.data(), rows, cols);
      for (int64_t r = 0; r < rows; ++r) {
        double mn = 0, mx = 0;
        for (int64_t i = 0; i < cols; ++i) {
          mn = std::min(mn, double(x[size_t(r * cols + i)]));
          mx = std::max(mx, double(x[size_t(r * cols + i)]));
        }
        mn *= clip;
        mx *= clip;
        const double maxq = (1 << bits) - 1, scale = (mx - mn) / maxq,
                     zero = std::nearbyint(-mn / scale);
        for (int64_t i = 0; i < cols; ++i) {
          const double v = x[size_t(r * cols + i)];
          double best = 1e300;
          for (int c = 0; c <= int(maxq); ++c)
            best = std::min(best, std::abs(v - scale * (c - zero)));
          EXPECT_NEAR(std::abs(v - double(y[size_t(r * cols + i)])), best, 1e-5 * (1 + std::abs(v)))
              << bits << " " << clip << " " << r << " " << i;
        }
      }
    }
}

TEST(ActQuant, SixteenBitsIsTheIdentityAndZeroRowsStayZero) {
  std::vector<float> x = {1.5f, -2.25f, 3.0f, 0.0f, 0.0f, 0.0f};
  std::vector<float> y = x;
  quantize_activations({16, 1.0f}, y.data(), 2, 3);
  EXPECT_EQ(x, y);
  quantize_activations({4, 1.0f}, y.data(), 2, 3);
  EXPECT_EQ(y[3], 0.0f);
  EXPECT_EQ(y[5], 0.0f);
  // Row 0 by hand: range [−2.25, 3] over 15 steps: scale 0.35, zero round(6.43) = 6.
  EXPECT_FLOAT_EQ(y[0], 0.35f * (std::nearbyint(1.5f / 0.35f) + 6 - 6));
  EXPECT_FLOAT_EQ(y[2], 0.35f * (15 - 6));
  EXPECT_THROW(validate(ActQuant{1, 1.0f}), Error);
  EXPECT_THROW(validate(ActQuant{4, 0.0f}), Error);
  EXPECT_THROW(validate(ActQuant{4, 1.5f}), Error);
}

}  // namespace
}  // namespace loaq
