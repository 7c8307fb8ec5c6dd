#pragma once
// Quantization of the low-rank branch's factors (issue 14, LoRaQ's quantized branch): symmetric
// round-to-nearest per row, the codes kept. Row r of a factor M:
//   qmax = 2^(b−1) − 1,  scale_r = max_c |M[r, c]| / qmax,  code = clamp(round(M[r, c] / scale_r),
//   −qmax, qmax) (round half to even), M̂[r, c] = scale_r · code;
// a zero row has scale 0 and codes 0. L1 [r, in] is quantized per row of L1 and L2 [out, r] per
// output row, i.e. per output channel of each of the branch's two linears. b = 16 keeps the values.
#include <cstdint>

#include "core/lowrank_branch.h"
#include "core/tensor.h"

namespace loaq {

// The two factors of a branch in full precision: B = L2 · L1.
struct LowRankFactors {
  Tensor l1;  // [r, in]
  Tensor l2;  // [out, r]
};

// Codes and scales of `m` [rows, cols] at `bits` (2..8; 16: values kept).
RowQuantMatrix quantize_rows(const Tensor& m, int bits);
// out ← the dequantized M̂ of `in` [rows, cols] (in may equal out), bit for bit what
// quantize_rows(m, bits).dequantize() gives; a copy at 16 bits.
void fake_quantize_rows(const float* in, float* out, int64_t rows, int64_t cols, int bits);
// Both factors at `wbits`, with the branch's activation width `abits`; validated.
LowRankBranch quantize_branch(const LowRankFactors& f, int wbits, int abits);

}  // namespace loaq
