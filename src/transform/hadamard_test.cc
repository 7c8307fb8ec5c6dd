// Hadamard matrices against their defining identity H Hᵀ = n I, and the fast transform against the
// dense Kronecker-product matrix it stands for.
#include "transform/hadamard.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace loaq {
namespace {

// H Hᵀ == n I exactly, and every entry ±1.
void expect_hadamard(const std::vector<int8_t>& h, int64_t n) {
  ASSERT_EQ(int64_t(h.size()), n * n) << "order " << n;
  for (int8_t v : h) ASSERT_TRUE(v == 1 || v == -1) << "order " << n;
  const std::vector<int32_t> m(h.begin(), h.end());
  for (int64_t i = 0; i < n; ++i) {
    const int32_t* a = m.data() + i * n;
    for (int64_t j = 0; j < n; ++j) {
      const int32_t* b = m.data() + j * n;
      int32_t dot = 0;
      for (int64_t k = 0; k < n; ++k) dot += a[k] * b[k];
      ASSERT_EQ(dot, i == j ? n : 0) << "order " << n << " rows " << i << ", " << j;
    }
  }
}

TEST(Hadamard, EveryBaseOrderIsHadamard) {
  for (int64_t m : hadamard_base_orders()) {
    SCOPED_TRACE(m);
    EXPECT_EQ(hadamard_base_of(m), m);
    expect_hadamard(hadamard_matrix(m), m);
  }
}

TEST(Hadamard, ModelSizesAndPowersOfTwo) {
  // 172: stories260K's intermediate size; 768 = 12·64: llama-mini-7m's; 384 = 12·32: qwen3-tiny's;
  // 40·4 and 28·8 exercise the Kronecker product with a non-symmetric base.
  for (int64_t n : {1, 2, 4, 8, 64, 128, 256, 512, 172, 768, 384, 160, 224, 344})
    expect_hadamard(hadamard_matrix(n), n);
  EXPECT_EQ(hadamard_base_of(768), 12);
  EXPECT_EQ(hadamard_base_of(344), 172);
  EXPECT_EQ(hadamard_base_of(100), 0);
  EXPECT_TRUE(hadamard_matrix(100).empty());
}

TEST(Hadamard, FwhtIsSylvesterProduct) {
  const int64_t n = 16;
  const auto h = hadamard_matrix(n);
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = float(i * i % 7) - 3.0f;
  std::vector<float> y = x;
  fwht(y.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    double ref = 0;
    for (int64_t j = 0; j < n; ++j) ref += h[size_t(i * n + j)] * x[size_t(j)];
    EXPECT_FLOAT_EQ(y[size_t(i)], float(ref));
  }
}

// apply_rotation(randomized_hadamard(n)) == (H_n / √n) · diag(d), H_n built densely by
// hadamard_matrix (Kronecker product of the base matrix and Sylvester's).
TEST(Hadamard, FastTransformEqualsDenseProduct) {
  std::mt19937 g(3);
  std::normal_distribution<float> nd;
  for (int64_t n : {12, 64, 172, 768, 160, 224}) {
    SCOPED_TRACE(n);
    const Rotation r = randomized_hadamard(n, 11);
    ASSERT_FALSE(r.fallback);
    ASSERT_EQ(int64_t(r.signs.size()), n);
    const auto h = hadamard_matrix(n);
    const int64_t rows = 3;
    std::vector<float> x(size_t(rows * n));
    for (auto& v : x) v = nd(g);
    std::vector<float> y = x;
    apply_rotation(r, y.data(), rows);
    for (int64_t t = 0; t < rows; ++t) {
      double norm_x = 0, norm_y = 0;
      for (int64_t i = 0; i < n; ++i) {
        double ref = 0;
        for (int64_t j = 0; j < n; ++j)
          ref += h[size_t(i * n + j)] * double(r.signs[size_t(j)]) * x[size_t(t * n + j)];
        ref /= std::sqrt(double(n));
        EXPECT_NEAR(y[size_t(t * n + i)], ref, 1e-5);
        norm_x += double(x[size_t(t * n + i)]) * x[size_t(t * n + i)];
        norm_y += double(y[size_t(t * n + i)]) * y[size_t(t * n + i)];
      }
      EXPECT_NEAR(norm_y / norm_x, 1.0, 1e-5);
    }
  }
}

TEST(Hadamard, SignsDependOnTheSeed) {
  const Rotation a = randomized_hadamard(64, 1), b = randomized_hadamard(64, 1),
                 c = randomized_hadamard(64, 2);
  EXPECT_EQ(a.signs, b.signs);
  EXPECT_NE(a.signs, c.signs);
  int plus = 0;
  for (float d : a.signs) plus += d > 0;
  EXPECT_GT(plus, 16);
  EXPECT_LT(plus, 48);
}

TEST(Hadamard, UnsupportedSizeFallsBackToRandomOrthogonalOnceWarned) {
  const int64_t n = 98;  // 2·49: no construction here
  testing::internal::CaptureStderr();
  const Rotation r = hadamard_transform(n, 5);
  const Rotation again = hadamard_transform(n, 5);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(r.fallback);
  EXPECT_NE(r.describe().find("random-orthogonal"), std::string::npos);
  EXPECT_NE(err.find("no Hadamard matrix of size 98"), std::string::npos) << err;
  EXPECT_EQ(err.find("warning", err.find("warning") + 1), std::string::npos)
      << "warned twice: " << err;
  EXPECT_EQ(r.block, again.block);  // the seed alone determines it
  // Orthogonal: B Bᵀ = I.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0;
      for (int64_t k = 0; k < n; ++k)
        dot += double(r.block[size_t(i * n + k)]) * r.block[size_t(j * n + k)];
      ASSERT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-6);
    }
  // Applied densely: y = B x.
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = float(i % 5) - 2.0f;
  std::vector<float> y = x;
  apply_rotation(r, y.data(), 1);
  for (int64_t i = 0; i < n; ++i) {
    double ref = 0;
    for (int64_t j = 0; j < n; ++j) ref += double(r.block[size_t(i * n + j)]) * x[size_t(j)];
    EXPECT_NEAR(y[size_t(i)], ref, 1e-5);
  }
}

}  // namespace
}  // namespace loaq

namespace loaq {
namespace {

// Across the first axis: each row [n, inner] becomes T X, i.e. column b of X becomes T · X[:, b].
TEST(Hadamard, AcrossAxisRotatesColumns) {
  const int64_t n = 12, inner = 3, rows = 2;
  const Rotation r = randomized_hadamard(n, 4);
  std::vector<float> x(static_cast<size_t>(rows * n * inner));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 11) - 5.0f;
  std::vector<float> y = x;
  apply_rotation_across(r, y.data(), rows, inner);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t b = 0; b < inner; ++b) {
      std::vector<float> col(static_cast<size_t>(n));
      for (int64_t a = 0; a < n; ++a) col[size_t(a)] = x[size_t(i * n * inner + a * inner + b)];
      apply_rotation(r, col.data(), 1);
      // The same sums by another BLAS call shape: equal to rounding (OpenBLAS's Zen kernels
      // round these fp32 products differently from its AVX-512 ones; values are of order 10).
      for (int64_t a = 0; a < n; ++a)
        EXPECT_NEAR(y[size_t(i * n * inner + a * inner + b)], col[size_t(a)], 1e-5);
    }
}

}  // namespace
}  // namespace loaq
