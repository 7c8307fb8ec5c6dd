// The blocked factorizations against LAPACK's three-step form (Cholesky, inverse, Cholesky of the
// inverse, in double: spd_inverse + cholesky_upper) and against their definitions.
#include "core/cholesky.h"

#include <cblas.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/linalg.h"

namespace loaq {
namespace {

// A = XᵀX/T + ridge·I for X [T, n] with correlated columns and a few large ones (condition ~1e4).
MatD spd(int64_t n, uint32_t seed, double ridge = 1e-3) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  const int64_t T = 2 * n + 8;
  std::vector<float> x(size_t(T * n));
  for (int64_t t = 0; t < T; ++t) {
    float prev = 0;
    for (int64_t j = 0; j < n; ++j) {
      prev = 0.6f * prev + d(g);
      x[size_t(t * n + j)] = prev * (j % 17 == 3 ? 8.0f : 1.0f);
    }
  }
  MatD a(n, n);
  add_gram(a, x.data(), T, n);
  for (auto& v : a.data) v /= double(T);
  for (int64_t i = 0; i < n; ++i) a(i, i) += ridge;
  return a;
}

MatD three_step(const MatD& a) {
  MatD u = a;
  EXPECT_TRUE(spd_inverse(u));
  EXPECT_TRUE(cholesky_upper(u));
  return u;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

class UpperCholeskyOfInverse : public ::testing::TestWithParam<int64_t> {};

TEST_P(UpperCholeskyOfInverse, MatchesThreeStepForm) {
  const int64_t n = GetParam();
  const MatD a = spd(n, uint32_t(7 + n));
  const MatD ref = three_step(a);
  const double scale = max_abs(ref.data);

  MatD ud = a;
  ASSERT_TRUE(upper_cholesky_of_inverse(ud.data.data(), n));
  std::vector<float> uf(a.data.begin(), a.data.end());
  ASSERT_TRUE(upper_cholesky_of_inverse(uf.data(), n));
  double err_d = 0, err_f = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double r = ref(i, j);
      if (j < i) {
        ASSERT_EQ(ud(i, j), 0.0);
        ASSERT_EQ(uf[size_t(i * n + j)], 0.0f);
      }
      err_d = std::max(err_d, std::abs(ud(i, j) - r));
      err_f = std::max(err_f, std::abs(double(uf[size_t(i * n + j)]) - r));
    }
  EXPECT_LE(err_d / scale, 1e-12) << n;
  EXPECT_LE(err_f / scale, 1e-5) << n;  // float32 with condition ~1e4
  std::printf("[cholesky] n=%lld max |U − U_ref| / max |U_ref|: double %.2e, float %.2e\n",
              static_cast<long long>(n), err_d / scale, err_f / scale);
}

INSTANTIATE_TEST_SUITE_P(Sizes, UpperCholeskyOfInverse,
                         ::testing::Values(1, 2, 7, 96, 97, 130, 333, 450));

TEST(CholeskyBlocked, ReconstructsTheMatrix) {
  const int64_t n = 411;
  const MatD a = spd(n, 3);
  MatD l = a;
  ASSERT_TRUE(cholesky_lower_blocked(l.data.data(), n, n));
  double err = 0, scale = max_abs(a.data);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0;
      for (int64_t k = 0; k <= j; ++k) s += l(i, k) * l(j, k);
      err = std::max(err, std::abs(s - a(i, j)));
    }
  EXPECT_LE(err / scale, 1e-13);
  MatD x = l;
  invert_lower_blocked(x.data.data(), n, n);
  double err_inv = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0;
      for (int64_t k = j; k <= i; ++k) s += l(i, k) * x(k, j);
      err_inv = std::max(err_inv, std::abs(s - (i == j ? 1.0 : 0.0)));
    }
  EXPECT_LE(err_inv, 1e-10);
}

TEST(CholeskyBlocked, RejectsIndefiniteMatrices) {
  for (int64_t n : {5, 300}) {
    MatD a = spd(n, 5);
    a(n - 2, n - 2) = -1.0;  // a negative diagonal entry
    EXPECT_FALSE(upper_cholesky_of_inverse(a.data.data(), n)) << n;
    std::vector<float> b(size_t(n * n), 0.0f);  // zero matrix
    EXPECT_FALSE(upper_cholesky_of_inverse(b.data(), n)) << n;
  }
}

TEST(CholeskyBlocked, SameBitsForAnyThreadCount) {
  // The fixed splits give thread-count-invariant bits only where OpenBLAS's own trsm/syrk/trmm do:
  // its SkylakeX kernels (measured), not its Haswell/Zen ones (README "Running on several
  // processes"; OPENBLAS_CORETYPE=SkylakeX selects the former on an AVX-512 AMD EPYC).
  const std::string core = openblas_get_corename();
  if (core.find("Haswell") != std::string::npos || core.find("Zen") != std::string::npos)
    GTEST_SKIP() << "OpenBLAS core " << core << ": its kernels change bits with the thread count";
  const int64_t n = 700;
  const MatD a = spd(n, 9);
  std::vector<float> u1(a.data.begin(), a.data.end()), u2 = u1;
  const int before = num_threads();
  set_num_threads(1);
  ASSERT_TRUE(upper_cholesky_of_inverse(u1.data(), n));
  set_num_threads(2);
  ASSERT_TRUE(upper_cholesky_of_inverse(u2.data(), n));
  set_num_threads(before);
  EXPECT_EQ(u1, u2);
}

}  // namespace
}  // namespace loaq
