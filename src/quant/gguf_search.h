#pragma once
// The searches llama.cpp's block quantizers run to choose a block's scale (and min) and codes:
// ggml-quants.c's nearest_int and make_*_quants, reproduced operation by operation (same float
// expressions in the same order, same integer widths; compiled without contraction: see
// CMakeLists.txt), shared by the reference quantizers (quant/gguf_block.cc) and the
// importance-weighted ones (quant/gguf_imatrix.cc). Internal to the quant module.
#include <cstdint>

namespace loaq::gguf_search {

// ggml's GROUP_MAX_EPS: a group whose largest |x| is below it is all zero.
inline constexpr float kGroupMaxEps = 1e-15f;

// Round half to even through the float mantissa, as ggml's nearest_int (|v| ≤ 4194303).
int nearest_int(float v);

// Symmetric codes of n values in −nmax..nmax−1 (stored offset by nmax into L) and their scale,
// searched over 19 candidate scales by the weighted least-squares fit: the weights are qw when
// given, else (rmse_type 1) x². make_qx_quants.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);

// Q3_K's reference sub-block codes (−nmax..nmax−1, stored offset by nmax), weighted by x² and
// refined coordinate-wise. make_q3_quants with do_rmse.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);

// Asymmetric codes 0..nmax with a min, weighted by `weights`: a grid search over nstep + 1
// scales, each refitted by weighted least squares (use_mad: weighted absolute error). Returns the
// scale and sets *the_min (≥ 0, subtracted). make_qkx2_quants; with non-null weights ggml's
// make_qkx3_quants is the same computation, so the weighted quantizers call this too.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);

// Non-negative codes 0..nmax of n non-negative values (the sub-block scales or mins of a
// K-quant super-block) under one scale, weighted by quant_weights: 9 candidate scales by weighted
// squared error, then coordinate-wise refinement. make_qp_quants.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

}  // namespace loaq::gguf_search
