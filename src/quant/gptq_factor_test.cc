// gptq_factor against the three-step form (inverse_cholesky_upper, double) on H in processing
// order with dead inputs set to 1, as gptq.py builds it.
#include "quant/gptq_factor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "quant/solver.h"

namespace loaq {
namespace {

TEST(GptqFactor, MatchesThreeStepFormWithActOrderAndDeadInputs) {
  const int64_t n = 257, T = 600;
  std::mt19937 g(21);
  std::normal_distribution<float> d;
  std::vector<float> x(size_t(T * n));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < n; ++j)
      x[size_t(t * n + j)] = (j == 5 || j == 200) ? 0.0f : d(g) * float(1 + j % 7);
  MatD h(n, n);
  add_gram(h, x.data(), T, n);
  SolverConfig cfg;
  cfg.act_order = true;
  const GptqFactor f = gptq_factor(h, cfg);
  EXPECT_EQ(f.dead_columns, 2);
  EXPECT_TRUE(f.dead[5] && f.dead[200]);

  // The reference: H with H_ii = 1 on dead inputs, permuted by descending diagonal, damped by
  // percdamp · mean diagonal, then Cholesky, inverse, Cholesky.
  MatD hp(n, n);
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += h(i, i) == 0.0 ? 1.0 : h(i, i);
  for (int64_t k = 1; k < n; ++k) {
    const auto dk = [&](int64_t j) { return h(f.perm[size_t(j)], f.perm[size_t(j)]); };
    ASSERT_TRUE((dk(k - 1) == 0.0 ? 1.0 : dk(k - 1)) >= (dk(k) == 0.0 ? 1.0 : dk(k))) << k;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t a = f.perm[size_t(i)], b = f.perm[size_t(j)];
      hp(i, j) = (a == b && h(a, a) == 0.0) ? 1.0 : h(a, b);
    }
  double damp = cfg.percdamp * mean / double(n);
  int raises = 0;
  EXPECT_NEAR(f.damp, damp, 1e-12 * damp);
  const MatD u = inverse_cholesky_upper(hp, damp, raises);
  double err = 0, scale = 0;
  for (size_t i = 0; i < u.data.size(); ++i) {
    err = std::max(err, std::abs(double(f.u[i]) - u.data[i]));
    scale = std::max(scale, std::abs(u.data[i]));
  }
  EXPECT_LE(err / scale, 1e-5);
  std::printf("[gptq factor] max |U − U_three_step| / max |U| = %.2e\n", err / scale);
}

TEST(GptqFactor, RaisesTheDampingOfASingularHessian) {
  MatD h(3, 3);  // rank one, no damping
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) h(i, j) = double(i + 1) * double(j + 1);
  SolverConfig cfg;
  cfg.percdamp = 0.0;
  const GptqFactor f = gptq_factor(h, cfg);
  EXPECT_GT(f.damp_raises, 0);
  EXPECT_GT(f.damp, 0.0);
  for (float v : f.u) EXPECT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace loaq
