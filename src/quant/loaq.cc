#include "quant/loaq.h"

#include <cblas.h>

#include "core/blas.h"
#include "core/cholesky.h"
#include "core/error.h"

namespace loaq {

namespace {

void check_shapes(const Tensor& w, const MatD& h, const MatD& c, const MatD* s) {
  const int64_t M = w.rows(), N = w.cols();
  if (h.rows != N || h.cols != N || c.rows != N || c.cols != N)
    fail("LoaQ: H and C must be {}×{}", N, N);
  if (s && (s->rows != N || s->cols != M))
    fail("LoaQ: S must be {}×{}, got {}×{}", N, M, s->rows, s->cols);
}

// Rᵀ = α C Wᵀ + β S, [N, M] in float32, with the inputs taken in the order `perm` (nullptr: as
// given): Rᵀ_p[k, m] = Rᵀ[perm k, m]. C Wᵀ first: O(N²M), never H⁻¹C.
std::vector<float> correction_rhs(const Tensor& w, const MatD& c, const MatD* s, double alpha,
                                  double beta, const std::vector<int32_t>* perm) {
  const int64_t M = w.rows(), N = w.cols();
  const auto p = [&](int64_t k) { return perm ? int64_t((*perm)[size_t(k)]) : k; };
  std::vector<float> rt(size_t(N * M), 0.0f);
  if (alpha != 0.0) {
    std::vector<float> cf(size_t(N * N)), wf(size_t(M * N));  // C_p and W_p: inputs in order p
#pragma omp parallel for schedule(static) if (N > 256)
    for (int64_t i = 0; i < N; ++i) {
      const double* cr = c.row(p(i));
      for (int64_t j = 0; j < N; ++j) cf[size_t(i * N + j)] = float(cr[p(j)]);
    }
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < N; ++j) wf[size_t(m * N + j)] = w.data[size_t(m * N + p(j))];
    gemm(false, true, N, M, N, float(alpha), cf.data(), N, wf.data(), N, 0.0f, rt.data(), M);
  }
  if (s && beta != 0.0)
    for (int64_t i = 0; i < N; ++i) {
      const double* sr = s->row(p(i));
      float* r = rt.data() + i * M;
      for (int64_t m = 0; m < M; ++m) r[m] = float(double(r[m]) + beta * sr[m]);
    }
  return rt;
}

// W̃[m, perm k] = W[m, perm k] + Y[k, m].
Tensor add_transposed(const Tensor& w, const std::vector<float>& y,
                      const std::vector<int32_t>* perm) {
  const int64_t M = w.rows(), N = w.cols();
  Tensor out = w;
  for (int64_t k = 0; k < N; ++k) {
    const int64_t col = perm ? (*perm)[size_t(k)] : k;
    const float* yr = y.data() + k * M;
    for (int64_t m = 0; m < M; ++m) out.data[size_t(m * N + col)] += yr[m];
  }
  return out;
}

}  // namespace

Tensor loaq_target(const Tensor& w, const MatD& h, const MatD& c, const MatD* s, double alpha,
                   double beta, double damp) {
  check_shapes(w, h, c, s);
  const int64_t M = w.rows(), N = w.cols();
  if (alpha == 0.0 && (!s || beta == 0.0)) return w;
  // Y = (H + λI)⁻¹ Rᵀ by the float32 Cholesky factor of H + λI (M right-hand sides).
  std::vector<float> l(size_t(N * N));
  for (int64_t i = 0; i < N; ++i) {
    for (int64_t j = 0; j <= i; ++j) l[size_t(i * N + j)] = float(h(i, j));
    l[size_t(i * N + i)] = float(h(i, i) + damp);
  }
  if (!cholesky_lower_blocked(l.data(), N, N))
    fail("LoaQ: H + {:.3g}·I is not positive definite (degenerate calibration inputs)", damp);
  std::vector<float> y = correction_rhs(w, c, s, alpha, beta, nullptr);
  if (N > 0 && M > 0) {
    cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, blasint(N),
                blasint(M), 1.0f, l.data(), blasint(N), y.data(), blasint(M));
    cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, blasint(N),
                blasint(M), 1.0f, l.data(), blasint(N), y.data(), blasint(M));
  }
  return add_transposed(w, y, nullptr);
}

Tensor loaq_target(const Tensor& w, const MatD& h, const MatD& c, const MatD* s, double alpha,
                   double beta, const GptqFactor& f) {
  check_shapes(w, h, c, s);
  const int64_t M = w.rows(), N = w.cols();
  if (f.n != N || f.u.size() != size_t(N * N))
    fail("LoaQ: the Hessian factor is for {} inputs, the weight has {}", f.n, N);
  if (alpha == 0.0 && (!s || beta == 0.0)) return w;
  // In processing order, (H_p + λI)⁻¹ = UᵀU, so Y_p = Uᵀ (U Rᵀ_p): two triangular products.
  std::vector<float> y = correction_rhs(w, c, s, alpha, beta, &f.perm);
  if (N > 0 && M > 0) {
    cblas_strmm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, blasint(N),
                blasint(M), 1.0f, f.u.data(), blasint(N), y.data(), blasint(M));
    cblas_strmm(CblasRowMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, blasint(N),
                blasint(M), 1.0f, f.u.data(), blasint(N), y.data(), blasint(M));
  }
  return add_transposed(w, y, &f.perm);
}

}  // namespace loaq
