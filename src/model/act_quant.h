#pragma once
// Dynamic per-token activation quantization (W4A4, LoaQ paper §4.2), simulated in fp32: the input
// of every quantized linear is quantized row by row (one token = one row) just before the linear
// reads it, in the quantized calibration stream and in evaluation alike.
#include <cstdint>

#include "core/tensor.h"

namespace loaq {

struct ActQuant {
  int bits = 16;      // 16: activations stay in full precision
  float clip = 1.0f;  // clip ratio in (0, 1]: the min-max range is scaled by it
  bool enabled() const { return bits < 16; }
};

// Throws loaq::Error for bits outside {2,…,16} or clip outside (0, 1].
void validate(const ActQuant& a);

// QuaRot's ActQuantizer, asymmetric per token (fake_quant/quant_utils.py find_params / asym_quant):
// per row, xmin = min(min x, 0)·clip, xmax = max(max x, 0)·clip (both zero → −1, +1),
// scale = (xmax − xmin)/(2^b − 1), zero = round(−xmin/scale), code = clamp(round(x/scale) + zero,
// 0, 2^b − 1), x ← scale·(code − zero); fp32, round half to even. In place; a no-op when disabled.
void quantize_activations(const ActQuant& a, float* x, int64_t rows, int64_t cols);

// `x` itself when `a` is disabled; otherwise `buf` set to the quantized copy of x [rows, cols].
const Tensor& quantized_input(const ActQuant& a, const Tensor& x, Tensor& buf);

}  // namespace loaq
