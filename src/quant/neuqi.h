#pragma once
// NeUQI grid initialization (Lin, Hu, Wan 2025, "NeUQI: Near-Optimal Uniform Quantization
// Parameter Initialization"; reference efsotr/NeUQI quant.py UniformQuantizer.init_param and
// find_zeropoint.py). Per row of a group (or of a whole channel), with h the diagonal of the
// Hessian restricted to the group and normalized to sum 1, it minimises
//     Σ_i h_i (Q(w_i) − w_i)²,   Q(w) = s · (clamp(round(w/s + z), 0, qmax) − z)
// over the scale s and the zero point z (in the reference's notation zp = −z).
//  - NeUQI     (reference "grid2_s_best_zp"): z real; s = k/64 · s₀ for k = 1…64 (s₀ the min-max
//    scale (max w − min w)/qmax), then s_mid + j/2048 · s₀ for j = −16…16 around the best; for each
//    s the optimal z is exact.
//  - NeUQI_int (reference "grid_s_zp"): z an integer in [0, qmax]; s = k/2048 · s₀, k = 1…2048;
//    all qmax + 1 zeros are tried.
// A candidate replaces the best only if strictly better (ties keep the smaller scale and zero).
#include <cstdint>

namespace loaq {

struct ZeroFit {
  double zero = 0;       // z
  double objective = 0;  // F(z), in units of the scale squared
};

// F(z) = Σ_i h_i (x_i + z − clamp(round(x_i + z), 0, qmax))² with x = w/s (round half to even):
// the weighted error of a grid of unit scale. The direct definition, for tests and brute force.
double neuqi_objective(const double* x, const double* h, int64_t n, int qmax, double z);

// The real z minimising F exactly. F is a continuous piecewise quadratic whose pieces change where
// some x_i + z crosses a half-integer k − ½ (k = 1…qmax, the code of x_i steps from k−1 to k):
// the n·qmax breakpoints are visited in increasing order (a merge of qmax sorted lists), keeping
// A = Σh, B = Σ h(x − c), C = Σ h(x − c)² so that F = A z² + 2 B z + C on each piece, whose
// minimum is at clamp(−B/A, piece). (The reference's find_zp_matrix_fast does the same sweep only
// on [z̃ − 1, z̃ + 1] around the optimum z̃ of a surrogate in which rounding errors inside the range
// count ¼; this sweep covers the whole line, so it is never worse.) h ≥ 0 with Σh > 0.
ZeroFit neuqi_best_zero(const double* x, const double* h, int64_t n, int qmax);

// The integer z ∈ {0, …, qmax} minimising F (the smallest on ties), as the reference's grid_zp.
ZeroFit neuqi_best_int_zero(const double* x, const double* h, int64_t n, int qmax);

struct NeuqiFit {
  float scale = 1, zero = 0;
  double objective = 0;  // Σ h (Q(w) − w)² with h normalized to sum 1 (the reference's aux loss)
};

// The scale search for one row of n weights w with weights h (diag H of those columns, ≥ 0; they
// are normalized here; all zero or non-finite: uniform). `int_zero` selects NeUQI_int.
NeuqiFit neuqi_fit(const float* w, const double* h, int64_t n, int bits, bool int_zero);

}  // namespace loaq
