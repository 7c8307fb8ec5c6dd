#include "quant/loaq.h"

#include "core/error.h"

namespace loaq {

Tensor loaq_target(const Tensor& w, const MatD& h, const MatD& c, const MatD* s, double alpha, double beta,
                   double damp) {
  const int64_t M = w.rows(), N = w.cols();
  if (h.rows != N || c.rows != N || c.cols != N) fail("LoaQ: H and C must be {}×{}", N, N);
  if (s && (s->rows != N || s->cols != M)) fail("LoaQ: S must be {}×{}, got {}×{}", N, M, s->rows, s->cols);
  MatD L = h;
  for (int64_t i = 0; i < N; ++i) L(i, i) += damp;
  if (!cholesky_lower(L))
    fail("LoaQ: H + {:.3g}·I is not positive definite (degenerate calibration inputs)", damp);
  MatD Wt(M, N);  // W̃ in double, rounded to float once at the end
  for (size_t i = 0; i < Wt.data.size(); ++i) Wt.data[i] = w.data[i];
  if (alpha != 0.0) {
    MatD B = c;  // B = H⁻¹C  (eq. 8)
    cholesky_solve(L, B);
    const MatD corr = matmul(Wt, false, B, true);  // W Bᵀ = W Cᵀ H⁻¹
    for (size_t i = 0; i < Wt.data.size(); ++i) Wt.data[i] += alpha * corr.data[i];
  }
  if (s && beta != 0.0) {
    MatD D = *s;  // Δ = H⁻¹S  (eq. 10 / 12), [in, out]
    cholesky_solve(L, D);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) Wt(m, n) += beta * D(n, m);
  }
  Tensor out({M, N});
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = float(Wt.data[i]);
  return out;
}

}  // namespace loaq
