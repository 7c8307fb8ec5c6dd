// The statistics kernels (add_gram, add_cross) against sums in double, across the tile edges of
// their blocked form, over two chunks.
#include "core/linalg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"

namespace loaq {
namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

TEST(AddGram, MatchesDoubleSumsAndIsExactlySymmetric) {
  const int64_t n = 1100, T = 24;  // two tiles of 1024 per side
  const auto a1 = randn(size_t(T * n), 1), a2 = randn(size_t(T * n), 2);
  MatD c(n, n);
  add_gram(c, a1.data(), T, n);
  add_gram(c, a2.data(), T, n);
  double err = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      ASSERT_EQ(c(i, j), c(j, i)) << i << "," << j;
      double s = 0;
      for (const auto* a : {&a1, &a2})
        for (int64_t t = 0; t < T; ++t)
          s += double((*a)[size_t(t * n + i)]) * (*a)[size_t(t * n + j)];
      err = std::max(err, std::abs(c(i, j) - s));
    }
  EXPECT_LE(err, 2e-5);  // fp32 products of 24 rows of unit normals
  EXPECT_GT(c(1099, 1099), 0.0);
}

TEST(AddCross, MatchesDoubleSums) {
  const int64_t n = 1030, m = 1500, T = 16;
  const auto a = randn(size_t(T * n), 3), b = randn(size_t(T * m), 4);
  MatD c(n, m);
  add_cross(c, a.data(), b.data(), T, n, m);
  double err = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double s = 0;
      for (int64_t t = 0; t < T; ++t) s += double(a[size_t(t * n + i)]) * b[size_t(t * m + j)];
      err = std::max(err, std::abs(c(i, j) - s));
    }
  EXPECT_LE(err, 2e-5);
  EXPECT_NE(c(n - 1, m - 1), 0.0);
}

// The row-block forms (the distributed chain's segments) give add_gram's and add_cross's bits:
// the chunks added block by block, in chunk order per block, then mirrored.
TEST(AddGramRows, BlockByBlockEqualsWholeSumBitForBit) {
  const int64_t n = 2100, m = 1100, T = 8;  // three row blocks of kStatRows, the last partial
  const auto a1 = randn(size_t(T * n), 5), a2 = randn(size_t(T * n), 6);
  const auto b1 = randn(size_t(T * m), 7), b2 = randn(size_t(T * m), 8);
  MatD g(n, n), x(n, m);
  for (const auto* a : {&a1, &a2}) add_gram(g, a->data(), T, n);
  add_cross(x, a1.data(), b1.data(), T, n, m);
  add_cross(x, a2.data(), b2.data(), T, n, m);
  MatD gb(n, n), xb(n, m);
  for (int64_t i0 = 0; i0 < n; i0 += kStatRows) {
    const int64_t i1 = std::min(n, i0 + kStatRows);
    for (const auto* a : {&a1, &a2}) add_gram_rows(gb.row(i0), a->data(), T, n, i0, i1);
    add_cross_rows(xb.row(i0), a1.data(), b1.data(), T, n, m, i0, i1);
    add_cross_rows(xb.row(i0), a2.data(), b2.data(), T, n, m, i0, i1);
  }
  mirror_upper(gb);
  EXPECT_TRUE(g.data == gb.data);
  EXPECT_TRUE(x.data == xb.data);
  EXPECT_NE(gb(n - 1, 0), 0.0);                                          // the mirrored corner
  EXPECT_THROW(add_gram_rows(gb.row(1), a1.data(), T, n, 1, 2), Error);  // not a block start
}

}  // namespace
}  // namespace loaq
