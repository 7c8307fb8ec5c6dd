#pragma once
// The low-rank branch in the forward pass (issue 14): for one linear's input block X [T, in],
//   Y += Qa(Qa(X) L1ᵀ) L2ᵀ,   i.e. y += L2 · Qa(L1 · Qa(x)) per token,
// with L1, L2 the branch's dequantized factors and Qa the dynamic per-token activation quantizer
// of model/act_quant.h at the branch's activation width (a no-op at 16 bits), clip ratio 1. X is
// the linear's input as its weight sees it (after any online rotation), before the main layer's
// own activation quantizer: the branch quantizes its input at its own width. Simulated in fp32,
// as the main layer is; this is what evaluation runs.
#include <cstdint>

#include "core/lowrank_branch.h"
#include "core/tensor.h"
#include "model/act_quant.h"

namespace loaq {

// The branch ready to run: factors dequantized once.
struct LowRankLinear {
  Tensor l1;  // [r, in]
  Tensor l2;  // [out, r]
  ActQuant act;
  int64_t rank() const { return l1.rows(); }
  bool empty() const { return l1.empty(); }
};

LowRankLinear make_lowrank_linear(const LowRankBranch& b);

// y [T, out] += the branch applied to x [T, in] (row strides in / out).
void apply_lowrank(const LowRankLinear& b, const float* x, int64_t tokens, float* y);

}  // namespace loaq
