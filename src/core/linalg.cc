#include "core/linalg.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>

#include "core/error.h"

namespace loaq {

bool cholesky_lower(MatD& a) {
  if (a.rows != a.cols) fail("cholesky: matrix is {}×{}, not square", a.rows, a.cols);
  const auto n = lapack_int(a.rows);
  if (n == 0) return true;
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, a.data.data(), n) != 0) return false;
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = i + 1; j < a.cols; ++j) a(i, j) = 0.0;
  return true;
}

bool spd_inverse(MatD& a) {
  const auto n = lapack_int(a.rows);
  if (n == 0) return true;
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, a.data.data(), n) != 0) return false;
  if (LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', n, a.data.data(), n) != 0) return false;
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = i + 1; j < a.cols; ++j) a(i, j) = a(j, i);
  return true;
}

bool cholesky_upper(MatD& a) {
  const auto n = lapack_int(a.rows);
  if (n == 0) return true;
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', n, a.data.data(), n) != 0) return false;
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < i; ++j) a(i, j) = 0.0;
  return true;
}

void cholesky_solve(const MatD& l, MatD& b) {
  if (l.rows != b.rows) fail("cholesky_solve: {}×{} factor, {} right-hand rows", l.rows, l.cols, b.rows);
  if (b.rows == 0 || b.cols == 0) return;
  LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', lapack_int(l.rows), lapack_int(b.cols), l.data.data(),
                 lapack_int(l.cols), b.data.data(), lapack_int(b.cols));
}

MatD matmul(const MatD& a, bool ta, const MatD& b, bool tb) {
  const int64_t m = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols;
  const int64_t k2 = tb ? b.cols : b.rows, n = tb ? b.rows : b.cols;
  if (k != k2) fail("matmul: inner dimensions {} and {} differ", k, k2);
  MatD c(m, n);
  if (m && n && k)
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, blasint(m),
                blasint(n), blasint(k), 1.0, a.data.data(), blasint(a.cols), b.data.data(),
                blasint(b.cols), 0.0, c.data.data(), blasint(n));
  return c;
}

namespace {

// Statistics are formed tile by tile: an fp32 product of kTile × kTile (ssyrk on the diagonal,
// sgemm off it, the whole chunk of rows as the inner dimension), then added to the fp64 sum. The
// fp32 scratch stays small (4 MB) whatever n is, and each sum element gets one fp32 chunk product.
constexpr int64_t kTile = 1024;
constexpr int64_t kSub = 64;  // sub-tiles of the transposed (mirrored) adds

// c[i0.., j0..] += g (ni × nj, row stride nj); with `mirror`, also c[j0.., i0..] += gᵀ, and on a
// diagonal tile (i0 == j0) only g's upper triangle is read.
void add_tile(MatD& c, const float* g, int64_t i0, int64_t j0, int64_t ni, int64_t nj,
              bool mirror) {
  const bool diag = mirror && i0 == j0;
#pragma omp parallel for schedule(static) if (ni * nj > 65536)
  for (int64_t r = 0; r < ni; ++r) {
    double* cr = c.row(i0 + r) + j0;
    const float* gr = g + r * nj;
    for (int64_t s = diag ? r : 0; s < nj; ++s) cr[s] += double(gr[s]);
  }
  if (!mirror) return;
  const int64_t nsub = (nj + kSub - 1) / kSub;
#pragma omp parallel for schedule(static) if (ni * nj > 65536)
  for (int64_t sb = 0; sb < nsub; ++sb) {  // rows j0 + s of c, one sub-tile band each
    const int64_t s0 = sb * kSub, s1 = std::min(nj, s0 + kSub);
    for (int64_t r0 = 0; r0 < ni; r0 += kSub) {
      const int64_t r1 = std::min(ni, r0 + kSub);
      if (diag && r0 > s1) break;
      for (int64_t s = s0; s < s1; ++s) {
        double* cs = c.row(j0 + s) + i0;
        for (int64_t r = r0; r < std::min(r1, diag ? s : r1); ++r) cs[r] += double(g[r * nj + s]);
      }
    }
  }
}

}  // namespace

void add_gram(MatD& c, const float* a, int64_t rows, int64_t n) {
  if (c.rows != n || c.cols != n) fail("add_gram: accumulator is {}×{}, rows have {}", c.rows, c.cols, n);
  if (rows <= 0 || n == 0) return;
  const int64_t t = std::min(n, kTile);
  std::vector<float> g(size_t(t * t));
  for (int64_t i0 = 0; i0 < n; i0 += kTile)
    for (int64_t j0 = i0; j0 < n; j0 += kTile) {
      const int64_t ni = std::min(kTile, n - i0), nj = std::min(kTile, n - j0);
      if (i0 == j0)
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(ni), blasint(rows), 1.0f, a + i0,
                    blasint(n), 0.0f, g.data(), blasint(nj));
      else
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(ni), blasint(nj),
                    blasint(rows), 1.0f, a + i0, blasint(n), a + j0, blasint(n), 0.0f, g.data(),
                    blasint(nj));
      add_tile(c, g.data(), i0, j0, ni, nj, true);
    }
}

void add_cross(MatD& c, const float* a, const float* b, int64_t rows, int64_t n, int64_t m) {
  if (c.rows != n || c.cols != m) fail("add_cross: accumulator is {}×{}, expected {}×{}", c.rows, c.cols, n, m);
  if (rows <= 0 || n == 0 || m == 0) return;
  std::vector<float> g(size_t(std::min(n, kTile) * std::min(m, kTile)));
  for (int64_t i0 = 0; i0 < n; i0 += kTile)
    for (int64_t j0 = 0; j0 < m; j0 += kTile) {
      const int64_t ni = std::min(kTile, n - i0), nj = std::min(kTile, m - j0);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(ni), blasint(nj), blasint(rows),
                  1.0f, a + i0, blasint(n), b + j0, blasint(m), 0.0f, g.data(), blasint(nj));
      add_tile(c, g.data(), i0, j0, ni, nj, false);
    }
}

}  // namespace loaq
