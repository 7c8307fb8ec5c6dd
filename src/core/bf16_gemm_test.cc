// The bf16 GEMM against fp64 sums: of the bf16-rounded operands (fp32-accumulation bound: it
// computes the right product) and of the fp32 operands (the bf16 rounding bound).
#include "core/bf16_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"

namespace loaq {
namespace {

TEST(Bf16Gemm, MatchesDoubleReferenceWithinBf16Bounds) {
  const int64_t m = 67, n = 130, k = 515, lda = k + 3;
  std::mt19937 g(5);
  std::normal_distribution<float> d;
  std::vector<float> x(size_t(m * lda)), w(size_t(n * k)), y(size_t(m * n));
  for (auto& v : x) v = d(g);
  for (auto& v : w) v = d(g) * 0.05f;
  for (auto& v : y) v = d(g);
  std::vector<uint16_t> xb(x.size()), wb(w.size());
  to_bf16(x.data(), int64_t(x.size()), xb.data());
  to_bf16(w.data(), int64_t(w.size()), wb.data());
  const std::vector<float> y0 = y;
  gemm_bf16_nt(m, n, k, xb.data(), lda, wb.data(), k, 1.0f, y.data(), n);  // beta = 1, strided A
  std::vector<float> x_dense(size_t(m * k));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j) x_dense[size_t(i * k + j)] = x[size_t(i * lda + j)];
  std::vector<float> z(size_t(m * n));
  linear_bf16(x_dense.data(), m, k, wb.data(), n, z.data());

  double worst_exact = 0, worst_round = 0, max_round_err = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s_b = 0, s_f = 0, s_abs = 0;
      for (int64_t t = 0; t < k; ++t) {
        const double a = x[size_t(i * lda + t)], b = w[size_t(j * k + t)];
        s_b += double(bf16_to_f32(xb[size_t(i * lda + t)])) * bf16_to_f32(wb[size_t(j * k + t)]);
        s_f += a * b;
        s_abs += std::abs(a * b);
      }
      const double got = y[size_t(i * n + j)] - double(y0[size_t(i * n + j)]);
      worst_exact = std::max(worst_exact, std::abs(got - s_b) / s_abs);
      worst_exact = std::max(worst_exact, std::abs(double(z[size_t(i * n + j)]) - s_b) / s_abs);
      worst_round = std::max(worst_round, std::abs(double(z[size_t(i * n + j)]) - s_f) / s_abs);
      max_round_err = std::max(max_round_err, std::abs(double(z[size_t(i * n + j)]) - s_f));
    }
  EXPECT_LE(worst_exact, 1e-5) << bf16_gemm_backend();  // fp32 accumulation of exact products
  EXPECT_LE(worst_round, 4e-3) << bf16_gemm_backend();  // two bf16 roundings (2⁻⁹ each)
  EXPECT_GT(max_round_err, 1e-4);                       // the operands really were rounded
  std::printf("[bf16 gemm] %s: vs bf16 operands %.2e, vs fp32 operands %.2e (of Σ|ab|)\n",
              std::string(bf16_gemm_backend()).c_str(), worst_exact, worst_round);
}

}  // namespace
}  // namespace loaq
