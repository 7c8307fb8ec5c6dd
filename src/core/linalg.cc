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
  if (l.rows != b.rows)
    fail("cholesky_solve: {}×{} factor, {} right-hand rows", l.rows, l.cols, b.rows);
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
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), 1.0, a.data.data(), blasint(a.cols),
                b.data.data(), blasint(b.cols), 0.0, c.data.data(), blasint(n));
  return c;
}

namespace {

// Statistics are formed tile by tile: an fp32 product of kStatRows × kStatRows (ssyrk on the
// diagonal, sgemm off it, the whole chunk of rows as the inner dimension), then added to the fp64
// sum. The fp32 scratch stays small (4 MB) whatever n is, and each sum element gets one fp32 chunk
// product, computed by the same BLAS call whether the sum is formed whole or one row block at a
// time (the distributed chain sums row blocks: dist::ordered_sum).
constexpr int64_t kTile = kStatRows;
constexpr int64_t kSub = 64;  // sub-tiles of the transposed copy

// c[r, j0 + s] += g[r, s] for the ni × nj tile g (row stride nj) and rows r of `c` (row stride
// ldc); on a diagonal tile only g's upper triangle (s ≥ r) is read.
void add_tile(double* c, int64_t ldc, const float* g, int64_t j0, int64_t ni, int64_t nj,
              bool diag) {
#pragma omp parallel for schedule(static) if (ni * nj > 65536)
  for (int64_t r = 0; r < ni; ++r) {
    double* cr = c + r * ldc + j0;
    const float* gr = g + r * nj;
    for (int64_t s = diag ? r : 0; s < nj; ++s) cr[s] += double(gr[s]);
  }
}

void check_block(int64_t i0, int64_t i1, int64_t n, const char* what) {
  if (i0 < 0 || i1 > n || i1 < i0 || (i0 % kStatRows) != 0 ||
      ((i1 - i0) % kStatRows != 0 && i1 != n))
    fail("internal: {}: row block [{}, {}) of {} is not whole blocks of {}", what, i0, i1, n,
         kStatRows);
}

}  // namespace

void add_gram_rows(double* c, const float* a, int64_t rows, int64_t n, int64_t i0, int64_t i1) {
  check_block(i0, i1, n, "add_gram_rows");
  if (rows <= 0 || n == 0) return;
  std::vector<float> g(size_t(std::min(n, kTile) * std::min(n, kTile)));
  for (int64_t b0 = i0; b0 < i1; b0 += kTile)
    for (int64_t j0 = b0; j0 < n; j0 += kTile) {
      const int64_t ni = std::min(kTile, n - b0), nj = std::min(kTile, n - j0);
      if (b0 == j0)
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(ni), blasint(rows), 1.0f, a + b0,
                    blasint(n), 0.0f, g.data(), blasint(nj));
      else
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(ni), blasint(nj),
                    blasint(rows), 1.0f, a + b0, blasint(n), a + j0, blasint(n), 0.0f, g.data(),
                    blasint(nj));
      add_tile(c + (b0 - i0) * n, n, g.data(), j0, ni, nj, b0 == j0);
    }
}

void add_cross_rows(double* c, const float* a, const float* b, int64_t rows, int64_t n, int64_t m,
                    int64_t i0, int64_t i1) {
  check_block(i0, i1, n, "add_cross_rows");
  if (rows <= 0 || n == 0 || m == 0) return;
  std::vector<float> g(size_t(std::min(n, kTile) * std::min(m, kTile)));
  for (int64_t b0 = i0; b0 < i1; b0 += kTile)
    for (int64_t j0 = 0; j0 < m; j0 += kTile) {
      const int64_t ni = std::min(kTile, n - b0), nj = std::min(kTile, m - j0);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(ni), blasint(nj), blasint(rows),
                  1.0f, a + b0, blasint(n), b + j0, blasint(m), 0.0f, g.data(), blasint(nj));
      add_tile(c + (b0 - i0) * m, m, g.data(), j0, ni, nj, false);
    }
}

void mirror_upper(MatD& c) {
  const int64_t n = c.rows;
  const int64_t nb = (n + kSub - 1) / kSub;
#pragma omp parallel for schedule(dynamic) if (n > 256)
  for (int64_t bi = 0; bi < nb; ++bi)  // lower rows i of band bi take c[j][i], j < i
    for (int64_t j0 = 0; j0 <= bi * kSub; j0 += kSub) {
      const int64_t i_lo = bi * kSub, i_hi = std::min(n, i_lo + kSub);
      for (int64_t i = i_lo; i < i_hi; ++i) {
        double* ci = c.row(i);
        for (int64_t j = j0; j < std::min({j0 + kSub, i, n}); ++j) ci[j] = c.row(j)[i];
      }
    }
}

void add_gram(MatD& c, const float* a, int64_t rows, int64_t n) {
  if (c.rows != n || c.cols != n)
    fail("add_gram: accumulator is {}×{}, rows have {}", c.rows, c.cols, n);
  if (rows <= 0 || n == 0) return;
  add_gram_rows(c.data.data(), a, rows, n, 0, n);
  mirror_upper(c);
}

void add_cross(MatD& c, const float* a, const float* b, int64_t rows, int64_t n, int64_t m) {
  if (c.rows != n || c.cols != m)
    fail("add_cross: accumulator is {}×{}, expected {}×{}", c.rows, c.cols, n, m);
  add_cross_rows(c.data.data(), a, b, rows, n, m, 0, n);
}

}  // namespace loaq
