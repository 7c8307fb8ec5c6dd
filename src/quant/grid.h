#pragma once
// Uniform quantization grids: bit-width, per-channel or grouped along the input dimension,
// asymmetric or symmetric, and how scale and zero point are fitted to a block of weights.
//
// A weight w is coded as code = clamp(round(w / scale) + zero, qmin, qmax) (round half to even)
// and dequantized as scale · (code − zero), all in float32, in exactly the operation order of the
// GPTQ reference quant.py, so codes agree bit for bit with it.
#include <cstdint>
#include <string>

namespace loaq {

// Which reference's grid. They differ only for symmetric grids (and a range clamp):
//  kGptq   (IST-DASLab/gptq quant.py): codes in [0, 2^b−1]; symmetric: zero = 2^(b−1), scale =
//          2·absmax/(2^b−1).
//  kQuarot (spcl/QuaRot WeightQuantizer, used by GPTAQ): asymmetric as kGptq but the range is
//          clamped to ≥ 1e-5; symmetric: signed codes in [−2^(b−1), 2^(b−1)−1], zero = 0,
//          scale = absmax/(2^(b−1)−1).
//  kBrevitas (Xilinx/brevitas ShiftedUint8 min-max "parameter_from_stats", used by Qronos): codes in
//          [0, 2^b−1], mn = min(min w, 0), range = |max w − mn| clamped ≥ 1e-4, scale = range/(2^b−1),
//          zero = clamp(round(|mn|/scale), 0, 2^b−1), or |mn|/scale with a real-valued zero point.
enum class GridFlavor { kGptq, kQuarot, kBrevitas };

struct GridConfig {
  int bits = 4;
  int64_t group = -1;  // -1: one scale per output channel; else groups of this many input columns
  bool sym = false;
  GridFlavor flavor = GridFlavor::kGptq;
  // MSE clip search (quant.py): shrink the range by p = 1 − i/grid, i < maxshrink·grid, keep the
  // scale/zero minimising Σ|Q(w) − w|^norm per row.
  // Real-valued zero point (brevitas float_zero, NeUQI): code = clamp(round(w/scale + zero)).
  bool real_zero = false;
  bool mse = false;
  double mse_norm = 2.4;
  int mse_grid = 100;
  double mse_maxshrink = 0.8;

  float qmin() const;
  float qmax() const;
  std::string describe() const;
};

// Throws loaq::Error for bits outside {2,…,8} or a group size that is not positive (or -1).
void validate(const GridConfig& g);

inline float quantize_code(float w, float scale, float zero, float qmin, float qmax);
// The same for a real-valued zero point: the zero is added before rounding (brevitas IntQuant).
inline float quantize_code_real_zero(float w, float scale, float zero, float qmin, float qmax);
// Dispatches on g.real_zero.
inline float quantize_code(const GridConfig& g, float w, float scale, float zero) {
  return g.real_zero ? quantize_code_real_zero(w, scale, zero, g.qmin(), g.qmax())
                     : quantize_code(w, scale, zero, g.qmin(), g.qmax());
}
inline float dequantize(float code, float scale, float zero) { return scale * (code - zero); }

// Fits one scale and zero per row to the block w[r, 0..cols) (row stride ld), for `rows` rows.
void fit_grid(const GridConfig& g, const float* w, int64_t rows, int64_t cols, int64_t ld,
              float* scale, float* zero);

}  // namespace loaq

#include "quant/grid_inl.h"
