#include "quant/lowrank_svd.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <random>

#include "core/error.h"

namespace loaq {

std::string svd_method_name(SvdMethod m) {
  switch (m) {
    case SvdMethod::kAuto:
      return "auto";
    case SvdMethod::kFull:
      return "full";
    case SvdMethod::kRandomized:
      return "randomized";
  }
  return "?";
}

SvdMethod parse_svd_method(const std::string& s) {
  for (SvdMethod m : {SvdMethod::kAuto, SvdMethod::kFull, SvdMethod::kRandomized})
    if (svd_method_name(m) == s) return m;
  fail("--lowrank-svd '{}': expected auto, full or randomized", s);
}

SvdMethod resolve_svd_method(const SvdOptions& o, int64_t m, int64_t n, int64_t k) {
  if (o.method != SvdMethod::kAuto) return o.method;
  const int64_t mn = std::min(m, n);
  return mn >= 1024 && 4 * (k + o.oversample) <= mn ? SvdMethod::kRandomized : SvdMethod::kFull;
}

TruncatedSvd svd_full(MatD a, int64_t k) {
  const int64_t m = a.rows, n = a.cols, mn = std::min(m, n);
  if (k < 1 || k > mn) fail("svd: rank {} outside 1..{} for a {}×{} matrix", k, mn, m, n);
  // Row-major A [m, n] is column-major Aᵀ [n, m] = V Σ Uᵀ: column-major gesdd of Aᵀ returns
  // its left vectors (n × mn, = V) and right vectors (mn × m, = Uᵀ) whose buffers, read row-major,
  // are Vᵀ [mn, n] and U [m, mn]. No transposed copies are made.
  std::vector<double> s(static_cast<size_t>(mn)), vt(static_cast<size_t>(mn * n)),
      u(static_cast<size_t>(m * mn));
  const lapack_int info =
      LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', lapack_int(n), lapack_int(m), a.data.data(),
                     lapack_int(n), s.data(), vt.data(), lapack_int(n), u.data(), lapack_int(mn));
  if (info != 0) fail("svd: LAPACK dgesdd failed on a {}×{} matrix (info {})", m, n, int(info));
  a = MatD();
  TruncatedSvd r;
  r.s.assign(s.begin(), s.begin() + k);
  r.u = MatD(m, k);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j) r.u(i, j) = u[size_t(i * mn + j)];
  r.vt = MatD(k, n);
  std::copy(vt.begin(), vt.begin() + k * n, r.vt.data.begin());
  return r;
}

namespace {

// Q ← an orthonormal basis of the columns of y [rows, l] (Householder QR, l ≤ rows).
void orthonormalize(MatD& y) {
  const auto rows = lapack_int(y.rows), l = lapack_int(y.cols);
  std::vector<double> tau(static_cast<size_t>(l));
  if (LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, rows, l, y.data.data(), l, tau.data()) != 0 ||
      LAPACKE_dorgqr(LAPACK_ROW_MAJOR, rows, l, l, y.data.data(), l, tau.data()) != 0)
    fail("svd: LAPACK QR failed on a {}×{} block", y.rows, y.cols);
}

// C = op(A) B for row-major A and B (dgemm).
MatD product(const MatD& a, bool ta, const MatD& b) {
  return matmul(a, ta, b, false);
}

}  // namespace

TruncatedSvd svd_randomized(const MatD& a, int64_t k, int64_t oversample, int power_iters,
                            uint64_t seed) {
  const int64_t m = a.rows, n = a.cols, mn = std::min(m, n);
  if (k < 1 || k > mn) fail("svd: rank {} outside 1..{} for a {}×{} matrix", k, mn, m, n);
  if (oversample < 0 || power_iters < 0)
    fail("svd: oversampling {} and power iterations {} must be ≥ 0", oversample, power_iters);
  const int64_t l = std::min(mn, k + oversample);
  MatD omega(n, l);
  std::mt19937_64 g(seed);
  std::normal_distribution<double> nd;
  for (double& x : omega.data) x = nd(g);
  MatD q = product(a, false, omega);  // Y = AΩ [m, l]
  orthonormalize(q);
  for (int it = 0; it < power_iters; ++it) {
    MatD z = product(a, true, q);  // Aᵀ Q [n, l]
    orthonormalize(z);
    q = product(a, false, z);  // A Z [m, l]
    orthonormalize(q);
  }
  MatD b = product(q, true, a);  // Qᵀ A [l, n]
  TruncatedSvd small = svd_full(std::move(b), k);
  TruncatedSvd r;
  r.u = product(q, false, small.u);  // [m, k]
  r.s = std::move(small.s);
  r.vt = std::move(small.vt);
  return r;
}

TruncatedSvd truncated_svd(MatD a, int64_t k, const SvdOptions& o) {
  if (resolve_svd_method(o, a.rows, a.cols, k) == SvdMethod::kRandomized)
    return svd_randomized(a, k, o.oversample, o.power_iters, o.seed);
  return svd_full(std::move(a), k);
}

}  // namespace loaq
