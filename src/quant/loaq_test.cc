// LoaQ's target against a direct least-squares solve (paper eqs. 9–10, Appendix A.2): with α = β = 1
// and no damping, W̃ minimises ‖ĥ + X̂Qᵀ − (h + XWᵀ)‖²_F over all real Q, so
//   X̂ᵀX̂ W̃ᵀ = X̂ᵀ(h − ĥ + XWᵀ).
// With α = β = 0 it is W itself.
#include "quant/loaq.h"

#include <gtest/gtest.h>

#include <random>

#include "quant/solver.h"

namespace loaq {
namespace {

Tensor randn(std::vector<int64_t> shape, std::mt19937& g) {
  Tensor t(std::move(shape));
  std::normal_distribution<float> d;
  for (auto& x : t.data) x = d(g);
  return t;
}

TEST(LoaqTarget, IsTheLeastSquaresMinimizer) {
  std::mt19937 g(11);
  const int64_t T = 200, N = 12, M = 7;
  const Tensor W = randn({M, N}, g), X = randn({T, N}, g), h = randn({T, M}, g), hq = randn({T, M}, g);
  Tensor Xq = X;
  for (auto& v : Xq.data) v += 0.1f * std::normal_distribution<float>()(g);
  MatD H(N, N), C(N, N), S(N, M);
  add_gram(H, Xq.ptr(), T, N);
  Tensor dX = X;
  for (size_t i = 0; i < dX.data.size(); ++i) dX.data[i] -= Xq.data[i];
  add_cross(C, Xq.ptr(), dX.ptr(), T, N, N);
  Tensor dh = h;
  for (size_t i = 0; i < dh.data.size(); ++i) dh.data[i] -= hq.data[i];
  add_cross(S, Xq.ptr(), dh.ptr(), T, N, M);

  const Tensor Wt = loaq_target(W, H, C, &S, 1.0, 1.0, 0.0);
  // Direct: normal equations in double, rhs = X̂ᵀ(h − ĥ + X Wᵀ).
  MatD A(N, N), R(N, M);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t j = 0; j < N; ++j) A(i, j) += double(Xq.data[size_t(t * N + i)]) * Xq.data[size_t(t * N + j)];
      for (int64_t m = 0; m < M; ++m) {
        double y = double(h.data[size_t(t * M + m)]) - hq.data[size_t(t * M + m)];
        for (int64_t k = 0; k < N; ++k) y += double(X.data[size_t(t * N + k)]) * W.data[size_t(m * N + k)];
        R(i, m) += double(Xq.data[size_t(t * N + i)]) * y;
      }
    }
  ASSERT_TRUE(cholesky_lower(A));
  cholesky_solve(A, R);  // R = Qᵀ*
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) EXPECT_NEAR(Wt.data[size_t(m * N + n)], R(n, m), 2e-4) << m << "," << n;

  // Through the GPTQ solve's factor (undamped, act-order: the factor is in permuted order).
  SolverConfig sc;
  sc.percdamp = 0.0;
  sc.act_order = true;
  const GptqFactor f = gptq_factor(H, sc);
  ASSERT_EQ(f.damp_raises, 0);
  ASSERT_NE(f.perm[0], 0);
  const Tensor Wf = loaq_target(W, H, C, &S, 1.0, 1.0, f);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      EXPECT_NEAR(Wf.data[size_t(m * N + n)], R(n, m), 2e-4) << m << "," << n;

  const Tensor W0 = loaq_target(W, H, C, &S, 0.0, 0.0, 0.0);
  EXPECT_EQ(W0.data, W.data);
  EXPECT_EQ(loaq_target(W, H, C, &S, 0.0, 0.0, f).data, W.data);
}

}  // namespace
}  // namespace loaq
