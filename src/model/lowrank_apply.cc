#include "model/lowrank_apply.h"

#include <vector>

#include "core/blas.h"

namespace loaq {

LowRankLinear make_lowrank_linear(const LowRankBranch& b) {
  validate(b, "low-rank branch");
  LowRankLinear r;
  r.l1 = b.l1.dequantize();
  r.l2 = b.l2.dequantize();
  r.act.bits = b.act_bits;
  r.act.clip = 1.0f;
  return r;
}

void apply_lowrank(const LowRankLinear& b, const float* x, int64_t tokens, float* y) {
  if (b.empty() || tokens == 0) return;
  const int64_t in = b.l1.cols(), r = b.rank(), out = b.l2.rows();
  const float* xin = x;
  std::vector<float> xq;
  if (b.act.enabled()) {
    xq.assign(x, x + tokens * in);
    quantize_activations(b.act, xq.data(), tokens, in);
    xin = xq.data();
  }
  std::vector<float> z(size_t(tokens * r));
  linear(xin, tokens, in, b.l1.ptr(), r, z.data());       // Z = Qa(X) L1ᵀ [T, r]
  quantize_activations(b.act, z.data(), tokens, r);       // Qa(Z), per token
  linear(z.data(), tokens, r, b.l2.ptr(), out, y, 1.0f);  // Y += Z L2ᵀ
}

}  // namespace loaq
