#pragma once
// Thin wrappers over CBLAS in the row-major convention of the rest of the code.
#include <cstdint>
#include <string>

namespace loaq {

// C[m,n] = alpha * op(A) * op(B) + beta * C, row-major, op = transpose when the flag is set.
// lda/ldb/ldc are row strides of the stored matrices.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// A linear layer on a batch: Y[m, n] = X[m, k] · W[n, k]ᵀ (+ beta·Y). W is stored [out, in] as in
// Hugging Face checkpoints.
void linear(const float* x, int64_t m, int64_t k, const float* w, int64_t n, float* y,
            float beta = 0.0f);

// The name of the kernels this process's OpenBLAS runs ("Haswell", "Cooperlake", ...): its choice
// by CPU, or OPENBLAS_CORETYPE's. Results can differ in the last bits between kernels.
std::string blas_kernels();

}  // namespace loaq
