#include "core/blas.h"

#include <cblas.h>

namespace loaq {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), blasint(k), alpha, a,
              blasint(lda), b, blasint(ldb), beta, c, blasint(ldc));
}

void linear(const float* x, int64_t m, int64_t k, const float* w, int64_t n, float* y, float beta) {
  gemm(false, true, m, n, k, 1.0f, x, k, w, k, beta, y, n);
}

std::string blas_kernels() {
  const char* name = openblas_get_corename();
  return name ? std::string(name) : std::string();
}

}  // namespace loaq
