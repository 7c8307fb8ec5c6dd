#pragma once
// Row reductions of the softmax / log-sum-exp kernels, written so that GCC vectorizes them (16
// float lanes, fixed-size partial-sum arrays) and compiled for AVX-512, AVX2 and SSE (core/simd.h).
// Sums of exponentials are kept in float per lane over at most kFlush elements, then added into a
// double: the relative error of a sum stays below ~1e-6 for any n.
#include <cstdint>

namespace loaq {

// max_i x[i] for n ≥ 1.
float max_of(const float* x, int64_t n);

// Σ_i exp(x[i] − shift), with exp = vexpf (core/vexp.h).
double sum_exp(const float* x, int64_t n, float shift);

// x[i] ← exp(x[i] − shift) in place; returns Σ_i of the new x[i].
double exp_inplace_sum(float* x, int64_t n, float shift);

// x[i] ← x[i] · s.
void scale_inplace(float* x, int64_t n, float s);

}  // namespace loaq
