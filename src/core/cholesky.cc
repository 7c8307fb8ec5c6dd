#include "core/cholesky.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace loaq {

namespace {

// Below this size the factorizations run unblocked, with sums in double.
constexpr int64_t kBase = 96;

// Split point of a recursion: half, rounded to a multiple of 16 (aligned panels for the kernels).
int64_t split(int64_t n) {
  return std::max<int64_t>(16, (n / 2 + 8) / 16 * 16);
}

void trsm_right_lower_trans(int64_t m, int64_t n, const float* l, int64_t ldl, float* b,
                            int64_t ldb) {
  cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, blasint(m),
              blasint(n), 1.0f, l, blasint(ldl), b, blasint(ldb));
}
void trsm_right_lower_trans(int64_t m, int64_t n, const double* l, int64_t ldl, double* b,
                            int64_t ldb) {
  cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, blasint(m),
              blasint(n), 1.0, l, blasint(ldl), b, blasint(ldb));
}
// C (n×n lower) ← C − A Aᵀ, A n×k.
void syrk_lower_sub(int64_t n, int64_t k, const float* a, int64_t lda, float* c, int64_t ldc) {
  cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, blasint(n), blasint(k), -1.0f, a,
              blasint(lda), 1.0f, c, blasint(ldc));
}
void syrk_lower_sub(int64_t n, int64_t k, const double* a, int64_t lda, double* c, int64_t ldc) {
  cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, blasint(n), blasint(k), -1.0, a,
              blasint(lda), 1.0, c, blasint(ldc));
}
// B (m×n) ← alpha · op(L) B (left) or alpha · B L (right), L lower triangular.
void trmm_lower(bool left, int64_t m, int64_t n, double alpha, const float* l, int64_t ldl,
                float* b, int64_t ldb) {
  cblas_strmm(CblasRowMajor, left ? CblasLeft : CblasRight, CblasLower, CblasNoTrans, CblasNonUnit,
              blasint(m), blasint(n), float(alpha), l, blasint(ldl), b, blasint(ldb));
}
void trmm_lower(bool left, int64_t m, int64_t n, double alpha, const double* l, int64_t ldl,
                double* b, int64_t ldb) {
  cblas_dtrmm(CblasRowMajor, left ? CblasLeft : CblasRight, CblasLower, CblasNoTrans, CblasNonUnit,
              blasint(m), blasint(n), alpha, l, blasint(ldl), b, blasint(ldb));
}

template <class T>
bool cholesky_unblocked(T* a, int64_t n, int64_t lda) {
  for (int64_t j = 0; j < n; ++j) {
    T* aj = a + j * lda;
    double s = aj[j];
    for (int64_t k = 0; k < j; ++k) s -= double(aj[k]) * aj[k];
    if (!(s > 0) || !std::isfinite(s)) return false;
    const double d = std::sqrt(s);
    aj[j] = T(d);
    for (int64_t i = j + 1; i < n; ++i) {
      T* ai = a + i * lda;
      double t = ai[j];
      for (int64_t k = 0; k < j; ++k) t -= double(ai[k]) * aj[k];
      ai[j] = T(t / double(aj[j]));
    }
  }
  return true;
}

// Forward substitution L X = I, column by column, on a copy of L.
template <class T>
void invert_unblocked(T* l, int64_t n, int64_t lda) {
  std::vector<double> lc(size_t(n * n)), x(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k <= i; ++k) lc[size_t(i * n + k)] = l[i * lda + k];
  for (int64_t j = 0; j < n; ++j) {
    x[size_t(j * n + j)] = 1.0 / lc[size_t(j * n + j)];
    for (int64_t i = j + 1; i < n; ++i) {
      double s = 0;
      for (int64_t k = j; k < i; ++k) s += lc[size_t(i * n + k)] * x[size_t(k * n + j)];
      x[size_t(i * n + j)] = -s / lc[size_t(i * n + i)];
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k <= i; ++k) l[i * lda + k] = T(x[size_t(i * n + k)]);
}

}  // namespace

// A = [A11 ·; A21 A22]: L11 = chol(A11), L21 = A21 L11⁻ᵀ, L22 = chol(A22 − L21 L21ᵀ).
template <class T>
bool cholesky_lower_blocked(T* a, int64_t n, int64_t lda) {
  if (n <= kBase) return cholesky_unblocked(a, n, lda);
  const int64_t n1 = split(n), n2 = n - n1;
  if (!cholesky_lower_blocked(a, n1, lda)) return false;
  T* a21 = a + n1 * lda;
  T* a22 = a21 + n1;
  trsm_right_lower_trans(n2, n1, a, lda, a21, lda);
  syrk_lower_sub(n2, n1, a21, lda, a22, lda);
  return cholesky_lower_blocked(a22, n2, lda);
}

// L = [L11 0; L21 L22]: L⁻¹ = [L11⁻¹ 0; −L22⁻¹ L21 L11⁻¹  L22⁻¹].
template <class T>
void invert_lower_blocked(T* l, int64_t n, int64_t lda) {
  if (n <= kBase) return invert_unblocked(l, n, lda);
  const int64_t n1 = split(n), n2 = n - n1;
  T* l21 = l + n1 * lda;
  T* l22 = l21 + n1;
  invert_lower_blocked(l, n1, lda);
  invert_lower_blocked(l22, n2, lda);
  trmm_lower(false, n2, n1, 1.0, l, lda, l21, lda);    // L21 L11⁻¹
  trmm_lower(true, n2, n1, -1.0, l22, lda, l21, lda);  // −L22⁻¹ (L21 L11⁻¹)
}

template <class T>
bool upper_cholesky_of_inverse(T* a, int64_t n) {
  const size_t nn = size_t(n * n);
  std::reverse(a, a + nn);  // J A J: the row-major index of (n−1−i, n−1−j) is n²−1 − (i·n + j)
  if (!cholesky_lower_blocked(a, n, n)) return false;
  invert_lower_blocked(a, n, n);
  std::reverse(a, a + nn);  // U = J L⁻¹ J, upper; its strict lower part is J·(L's upper part)·J
  bool finite = true;
  for (int64_t i = 0; i < n; ++i) {
    T* r = a + i * n;
    std::fill(r, r + i, T(0));
    for (int64_t j = i; j < n; ++j) finite = finite && std::isfinite(r[j]);
  }
  return finite;
}

template bool cholesky_lower_blocked<float>(float*, int64_t, int64_t);
template bool cholesky_lower_blocked<double>(double*, int64_t, int64_t);
template void invert_lower_blocked<float>(float*, int64_t, int64_t);
template void invert_lower_blocked<double>(double*, int64_t, int64_t);
template bool upper_cholesky_of_inverse<float>(float*, int64_t);
template bool upper_cholesky_of_inverse<double>(double*, int64_t);

}  // namespace loaq
