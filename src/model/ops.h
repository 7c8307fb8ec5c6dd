#pragma once
// Elementwise and row-wise kernels of the decoder, on row-major fp32 buffers.
#include <cstdint>

#include "core/tensor.h"
#include "model/weights.h"

namespace loaq {

// RMSNorm (Hugging Face LlamaRMSNorm): y = w ⊙ (x · (mean(x²) + eps)^-½) per row of length n.
// The mean of squares is accumulated in double. `y` may alias `x`.
void rms_norm(const float* x, int64_t rows, int64_t n, const float* w, double eps, float* y);

// The same on a [rows, n] tensor, returning a new tensor.
Tensor rms_norm(const Tensor& x, const Tensor& w, double eps);

// Y[rows, out] = X[rows, in] · Wᵀ + b (b optional): a Hugging Face nn.Linear on a batch of rows.
Tensor apply_linear(const Linear& l, const Tensor& x);

// gate ← silu(gate) ⊙ up, elementwise over n values (SwiGLU, the MLP's inner activation).
void silu_mul(float* gate, const float* up, int64_t n);

// In-place softmax of each row's first `len` entries (the rest of the row is untouched).
void softmax_prefix(float* row, int64_t len);

}  // namespace loaq
