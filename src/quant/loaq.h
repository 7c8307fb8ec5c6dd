#pragma once
// LoaQ's target weight (Lin & Wan, "LoaQ: Layer-wise Output Approximation Quantization",
// Algorithm 1 line 18), in our W[out, in] convention.
//
// The paper writes Y = XW with W[in, out] and sets W̃ = (I + αH⁻¹C)W + βΔ with H = X̂ᵀX̂,
// C = X̂ᵀ(X − X̂) (eq. 8) and, for the sub-layer output linear, Δ = H⁻¹X̂ᵀ(h − ĥ) (eq. 10), or with
// the per-token RMS rescaling of eq. 12 folded into X, X̂, h, ĥ. Transposed (our W is the paper's Wᵀ):
//     W̃ = W (I + α Cᵀ H⁻¹) + β Sᵀ H⁻¹,    S = X̂ᵀ(h − ĥ)  [in, out].
// GPTQ then quantizes W̃ with the same H, minimising ‖X̂(Q − W̃)ᵀ‖² (eq. 4 with W̃).
#include "core/linalg.h"
#include "core/tensor.h"
#include "quant/gptq_factor.h"

namespace loaq {

// Returns W̃. `h` is H (a sum over tokens), `c` is C (same scaling), `s` is S or nullptr (β term
// off). H⁻¹ is taken of H + λI with λ = `damp` (the solver's damping; 0 for the exact
// least-squares target). Throws if H + λI is not positive definite.
// Computed as W̃ = W + R (H + λI)⁻¹ with R = α W Cᵀ + β Sᵀ: C Wᵀ first (2·M·N² flops), then a
// float32 Cholesky of H + λI (N³/3) and two triangular solves for the M right-hand sides (2·M·N²).
Tensor loaq_target(const Tensor& w, const MatD& h, const MatD& c, const MatD* s, double alpha, double beta,
                   double damp);

// The same W̃ with (H + λI)⁻¹ applied through the GPTQ solve's own factor (gptq_factor(h, cfg):
// λ, act-order and dead inputs as the solve takes them), so no factorization of its own: R·UᵀU by
// two triangular products (2·M·N² flops). With dead inputs its λ counts them in mean(diag H) as 1
// (gptq.py's H_ii = 1), so it can differ in the last bits from the `damp` form.
Tensor loaq_target(const Tensor& w, const MatD& h, const MatD& c, const MatD* s, double alpha,
                   double beta, const GptqFactor& factor);

}  // namespace loaq
