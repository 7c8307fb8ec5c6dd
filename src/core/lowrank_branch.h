#pragma once
// A low-rank branch as data: y += L2 (L1 x), with L1 [r, in] and L2 [out, r] (issue 14, LoRaQ).
// Each factor is stored as symmetric integer codes with one scale per row (`bits` < 16), or as
// fp32 values (`bits` = 16). This plain struct is shared by the modules that fit it (quant), store
// it (io) and apply it (model), which is why it sits in core.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace loaq {

// One factor: row r dequantizes to scale[r] · codes[r, :] (codes in [−(2^(b−1)−1), 2^(b−1)−1],
// the restricted symmetric range, so that 0 is exact and the grid is symmetric), or is values[r,
// :].
struct RowQuantMatrix {
  int64_t rows = 0, cols = 0;
  int bits = 16;              // 2..8: codes and scale are used; 16: values are used
  std::vector<int8_t> codes;  // [rows, cols]
  std::vector<float> scale;   // [rows]
  std::vector<float> values;  // [rows, cols]
  bool quantized() const { return bits < 16; }
  // The largest code magnitude, 2^(b−1) − 1.
  int qmax() const { return (1 << (bits - 1)) - 1; }
  // [rows, cols] in fp32: scale[r] · code, computed in float exactly so.
  Tensor dequantize() const;
  // Bytes of the deployed factor: codes packed at `bits` plus one fp16 scale per row, or fp16
  // values at 16 bits.
  int64_t bytes() const;
};

struct LowRankBranch {
  RowQuantMatrix l1;  // [r, in]
  RowQuantMatrix l2;  // [out, r]
  int act_bits = 16;  // the branch's input and L1·x are quantized per token at this width (< 16)
  int64_t rank() const { return l1.rows; }
  int64_t in() const { return l1.cols; }
  int64_t out() const { return l2.rows; }
  int64_t bytes() const { return l1.bytes() + l2.bytes(); }
};

// Throws loaq::Error naming `where` unless: rank ≥ 1, l2.cols == l1.rows, bits in {2..8, 16} for
// both factors and act_bits in {2..16}, array sizes match the shapes, every code within ±qmax,
// every scale and value finite (scales ≥ 0).
void validate(const LowRankBranch& b, const std::string& where);

// L2 · L1 [out, in] dequantized (fp32 GEMM): the weight the branch adds when its input is not
// quantized.
Tensor lowrank_product(const LowRankBranch& b);

}  // namespace loaq
