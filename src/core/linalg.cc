#include "core/linalg.h"

#include <cblas.h>
#include <lapacke.h>

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

void add_gram(MatD& c, const float* a, int64_t rows, int64_t n) {
  if (c.rows != n || c.cols != n) fail("add_gram: accumulator is {}×{}, rows have {}", c.rows, c.cols, n);
  std::vector<float> g(size_t(n * n), 0.0f);
  if (rows > 0)
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(n), blasint(rows), 1.0f, a, blasint(n),
                0.0f, g.data(), blasint(n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) {
      const double v = g[size_t(i * n + j)];
      c(i, j) += v;
      if (j != i) c(j, i) += v;
    }
}

void add_cross(MatD& c, const float* a, const float* b, int64_t rows, int64_t n, int64_t m) {
  if (c.rows != n || c.cols != m) fail("add_cross: accumulator is {}×{}, expected {}×{}", c.rows, c.cols, n, m);
  std::vector<float> g(size_t(n * m), 0.0f);
  if (rows > 0)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(n), blasint(m), blasint(rows), 1.0f, a,
                blasint(n), b, blasint(m), 0.0f, g.data(), blasint(m));
  for (size_t i = 0; i < g.size(); ++i) c.data[i] += g[i];
}

}  // namespace loaq
