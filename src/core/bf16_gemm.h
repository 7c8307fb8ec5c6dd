#pragma once
// bf16 matrix products with fp32 accumulation for the linear layers' forward passes
// (`--compute-dtype bf16`, not wired yet): Y = X Wᵀ with X, W rounded to bfloat16 and the sums in
// float32. Runs on oneDNN's matmul (Debian libdnnl-dev; AVX512_BF16 instructions where the CPU has
// them). Debian's OpenBLAS 0.3.21 is built without BUILD_BFLOAT16: its cblas.h declares
// cblas_sbgemm but libopenblas.so does not export it. Without oneDNN at build time the same
// results come from widening to fp32 and sgemm (exact products of the bf16 values, not fast).
#include <cstdint>
#include <string_view>

namespace loaq {

// Which implementation runs: "onednn" or "fp32-fallback".
std::string_view bf16_gemm_backend();

// out[i] = bf16(x[i]), round to nearest even (f32_to_bf16).
void to_bf16(const float* x, int64_t n, uint16_t* out);

// C[m, n] = A[m, k] · B[n, k]ᵀ + beta · C (row-major, row strides lda, ldb, ldc), A and B bf16,
// C float32. beta must be 0 or 1.
void gemm_bf16_nt(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                  const uint16_t* b, int64_t ldb, float beta, float* c, int64_t ldc);

// A linear layer on a batch with bf16 compute: Y[m, n] = bf16(X[m, k]) · W[n, k]ᵀ (+ beta·Y),
// W already in bf16 (as checkpoints store it), X converted here.
void linear_bf16(const float* x, int64_t m, int64_t k, const uint16_t* w, int64_t n, float* y,
                 float beta = 0.0f);

}  // namespace loaq
