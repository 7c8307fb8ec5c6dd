#include "quant/lowrank_fit.h"

#include <lapacke.h>

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "core/blas.h"
#include "core/error.h"

namespace loaq {

MatD to_matd(const Tensor& t) {
  MatD m(t.rows(), t.cols());
  std::copy(t.data.begin(), t.data.end(), m.data.begin());
  return m;
}

namespace {

void check_rank(const Tensor& e, int64_t r) {
  if (e.ndim() != 2) fail("low-rank fit: the error is not a matrix ({})", shape_str(e.shape));
  const int64_t mn = std::min(e.rows(), e.cols());
  if (r < 1 || r > mn)
    fail("--rank {} outside 1..{} for a {}×{} linear", r, mn, e.rows(), e.cols());
}

// L2 = U_r diag(a), L1 = diag(b) V_rᵀ (a = b = Σ^½ balanced; a = Σ, b = 1 otherwise).
LowRankFactors split(const TruncatedSvd& s, bool balanced) {
  const int64_t out = s.u.rows, r = int64_t(s.s.size()), k = s.vt.cols;
  LowRankFactors f;
  f.l2 = Tensor({out, r});
  f.l1 = Tensor({r, k});
  for (int64_t j = 0; j < r; ++j) {
    const double a = balanced ? std::sqrt(s.s[size_t(j)]) : s.s[size_t(j)];
    const double b = balanced ? std::sqrt(s.s[size_t(j)]) : 1.0;
    for (int64_t i = 0; i < out; ++i) f.l2.data[size_t(i * r + j)] = float(s.u(i, j) * a);
    for (int64_t c = 0; c < k; ++c) f.l1.data[size_t(j * k + c)] = float(s.vt(j, c) * b);
  }
  return f;
}

// Rescales component j (column j of L2, row j of L1) by α_j and 1/α_j so that both have the same
// norm: B is unchanged, and the split no longer depends on the scale of H.
void rebalance(LowRankFactors& f) {
  const int64_t r = f.l1.rows(), in = f.l1.cols(), out = f.l2.rows();
  for (int64_t j = 0; j < r; ++j) {
    double n1 = 0, n2 = 0;
    for (int64_t c = 0; c < in; ++c) n1 += std::pow(double(f.l1.data[size_t(j * in + c)]), 2);
    for (int64_t i = 0; i < out; ++i) n2 += std::pow(double(f.l2.data[size_t(i * r + j)]), 2);
    if (!(n1 > 0 && n2 > 0)) continue;
    const double a = std::pow(n1 / n2, 0.25);  // ‖α L2_j‖ = ‖L1_j / α‖
    for (int64_t c = 0; c < in; ++c)
      f.l1.data[size_t(j * in + c)] = float(f.l1.data[size_t(j * in + c)] / a);
    for (int64_t i = 0; i < out; ++i)
      f.l2.data[size_t(i * r + j)] = float(f.l2.data[size_t(i * r + j)] * a);
  }
}

}  // namespace

LowRankFactors fit_svd(const Tensor& e, int64_t r, const SvdOptions& o) {
  check_rank(e, r);
  return split(truncated_svd(to_matd(e), r, o), true);
}

LowRankFactors fit_lqer(const Tensor& e, int64_t r, const std::vector<double>& s,
                        const SvdOptions& o) {
  check_rank(e, r);
  const int64_t in = e.cols();
  if (int64_t(s.size()) != in)
    fail("lqer: {} mean |x| values for a linear with {} inputs", s.size(), in);
  double smax = 0;
  for (double v : s) {
    if (!std::isfinite(v) || v < 0) fail("lqer: mean |x| value {} is not finite and ≥ 0", v);
    smax = std::max(smax, v);
  }
  if (smax == 0) fail("lqer: every mean |x| is zero (no calibration activity)");
  std::vector<double> sc(s);
  for (double& v : sc) v = std::max(v, 1e-6 * smax);
  MatD es = to_matd(e);  // E diag(s)
  for (int64_t i = 0; i < es.rows; ++i)
    for (int64_t c = 0; c < in; ++c) es(i, c) *= sc[size_t(c)];
  const TruncatedSvd t = truncated_svd(std::move(es), r, o);
  LowRankFactors f = split(t, false);  // L2 = V_r Σ_r, L1 = U_rᵀ; then L1 diag(s)⁻¹
  for (int64_t j = 0; j < r; ++j)
    for (int64_t c = 0; c < in; ++c) f.l1.data[size_t(j * in + c)] /= float(sc[size_t(c)]);
  return f;
}

QeraBasis qera_basis(const MatD& h) {
  if (h.rows != h.cols || h.rows < 1) fail("qera: H is {}×{}, not square", h.rows, h.cols);
  const int64_t n = h.rows;
  MatD q = h;
  std::vector<double> w(static_cast<size_t>(n));
  // H is symmetric, so its row-major buffer is also its column-major one. The eigenvectors come
  // back in the columns of the column-major matrix: row-major q(j, i) = Q[i, j].
  if (LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', lapack_int(n), q.data.data(), lapack_int(n),
                     w.data()) != 0)
    fail("qera: LAPACK dsyevd failed on the {}×{} H", n, n);
  const double lmax = w.back();
  if (!(lmax > 0)) fail("qera: H has no positive eigenvalue (no calibration activity)");
  const double tol = lmax * double(n) * DBL_EPSILON;
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < n; ++i)
    if (w[size_t(i)] > tol) keep.push_back(i);
  QeraBasis b;
  b.dropped = n - int64_t(keep.size());
  const auto k = int64_t(keep.size());
  b.q = MatD(n, k);
  for (int64_t j = 0; j < k; ++j) {
    const int64_t e = keep[size_t(j)];
    b.lambda.push_back(w[size_t(e)]);
    for (int64_t i = 0; i < n; ++i) b.q(i, j) = q(e, i);
  }
  return b;
}

LowRankFactors fit_qera(const Tensor& e, int64_t r, const QeraBasis& basis, const SvdOptions& o) {
  check_rank(e, r);
  const int64_t in = e.cols(), k = basis.q.cols;
  if (basis.q.rows != in)
    fail("qera: H is {}×{} for a linear with {} inputs", basis.q.rows, basis.q.rows, in);
  if (r > k) fail("qera: --rank {} exceeds the rank {} of H (its other eigenvalues are ≈ 0)", r, k);
  MatD ep = matmul(to_matd(e), false, basis.q, false);  // E P = (E Q₊) Λ₊^½ [out, k]
  for (int64_t i = 0; i < ep.rows; ++i)
    for (int64_t j = 0; j < k; ++j) ep(i, j) *= std::sqrt(basis.lambda[size_t(j)]);
  const TruncatedSvd t = truncated_svd(std::move(ep), r, o);
  // L1 = Σ_r^½ V_rᵀ P⁺ = (Σ_r^½ V_rᵀ Λ₊^-½) Q₊ᵀ.
  MatD v(r, k);
  for (int64_t j = 0; j < r; ++j)
    for (int64_t c = 0; c < k; ++c)
      v(j, c) = t.vt(j, c) * std::sqrt(t.s[size_t(j)] / basis.lambda[size_t(c)]);
  const MatD l1 = matmul(v, false, basis.q, true);
  LowRankFactors f;
  f.l2 = Tensor({e.rows(), r});
  for (int64_t i = 0; i < e.rows(); ++i)
    for (int64_t j = 0; j < r; ++j)
      f.l2.data[size_t(i * r + j)] = float(t.u(i, j) * std::sqrt(t.s[size_t(j)]));
  f.l1 = Tensor({r, in});
  std::transform(l1.data.begin(), l1.data.end(), f.l1.data.begin(),
                 [](double x) { return float(x); });
  rebalance(f);
  return f;
}

double frobenius_error(const Tensor& e, const Tensor& l1, const Tensor& l2) {
  const int64_t out = e.rows(), in = e.cols(), r = l1.rows();
  Tensor d = e;
  gemm(false, false, out, in, r, -1.0f, l2.ptr(), r, l1.ptr(), in, 1.0f, d.ptr(), in);
  double s = 0;
  for (float v : d.data) s += double(v) * double(v);
  return s;
}

double weighted_error(const Tensor& e, const Tensor& l1, const Tensor& l2, const MatD& h) {
  const int64_t out = e.rows(), in = e.cols(), r = l1.rows();
  if (h.rows != in || h.cols != in)
    fail("weighted error: H is {}×{} for {} inputs", h.rows, h.cols, in);
  Tensor d = e;
  gemm(false, false, out, in, r, -1.0f, l2.ptr(), r, l1.ptr(), in, 1.0f, d.ptr(), in);
  const MatD dd = to_matd(d);
  const MatD dh = matmul(dd, false, h, false);
  double s = 0;
  for (size_t i = 0; i < dd.data.size(); ++i) s += dd.data[i] * dh.data[i];
  return s;
}

}  // namespace loaq
