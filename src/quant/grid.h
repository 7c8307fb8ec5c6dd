#pragma once
// Uniform quantization grids: bit-width, per-channel or grouped along the input dimension,
// asymmetric or symmetric, and how scale and zero point are fitted to a block of weights.
//
// A weight w is coded as code = clamp(round(w / scale) + zero, qmin, qmax) (round half to even)
// and dequantized as scale · (code − zero), all in float32, in exactly the operation order of the
// GPTQ reference quant.py, so codes agree bit for bit with it.
#include <cstdint>
#include <string>

#include "core/dequantize.h"

namespace loaq {

enum class GgmlType : uint32_t;  // io/gguf.h

// Which reference's grid. They differ only for symmetric grids (and a range clamp):
//  kGptq   (IST-DASLab/gptq quant.py): codes in [0, 2^b−1]; symmetric: zero = 2^(b−1), scale =
//          2·absmax/(2^b−1).
//  kQuarot (spcl/QuaRot WeightQuantizer, used by GPTAQ): asymmetric as kGptq but the range is
//          clamped to ≥ 1e-5; symmetric: signed codes in [−2^(b−1), 2^(b−1)−1], zero = 0,
//          scale = absmax/(2^(b−1)−1).
//  kBrevitas (Xilinx/brevitas ShiftedUint8 min-max "parameter_from_stats", used by Qronos): codes
//  in
//          [0, 2^b−1], mn = min(min w, 0), range = |max w − mn| clamped ≥ 1e-4, scale =
//          range/(2^b−1), zero = clamp(round(|mn|/scale), 0, 2^b−1), or |mn|/scale with a
//          real-valued zero point.
enum class GridFlavor { kGptq, kQuarot, kBrevitas };

// How scale and zero are chosen for a row of a group:
//  kMinMax   the flavor's min-max range;
//  kMse      quant.py's MSE clip search (shrink the range by p = 1 − i/grid, i < maxshrink·grid,
//  keep
//            the scale/zero minimising Σ|Q(w) − w|^norm per row);
//  kNeuqi    NeUQI (quant/neuqi.h): minimise Σ h_i (Q(w_i) − w_i)², h = diag(H) of the group, over
//            the scale and a real-valued zero point (codes: round(w/scale + zero));
//  kNeuqiInt NeUQI_int: the same with an integer zero point in [0, 2^b − 1].
// NeUQI needs the column weights h (fit_grid's `h`), asymmetric grids only.
enum class GridFit { kMinMax, kMse, kNeuqi, kNeuqiInt };

// How a GGUF block grid's headers (quant/gguf_grid.h) are fitted before the solve, as
// llama-quantize fits them: without an imatrix (kUnweighted: its reference quantizer), or with
// one (kImatrix: its importance-weighted quantizer, the weights each input column's mean square
// over the calibration tokens, diag(H) / tokens, which is what llama-imatrix records).
enum class GgufFit { kUnweighted, kImatrix };
std::string grid_fit_name(GridFit f);
// Parses minmax|mse|neuqi|neuqi-int; throws naming the valid choices.
GridFit parse_grid_fit(const std::string& s);

struct GridConfig {
  int bits = 4;
  int64_t group = -1;  // -1: one scale per output channel; else groups of this many input columns
  bool sym = false;
  GridFlavor flavor = GridFlavor::kGptq;
  GridFit fit = GridFit::kMinMax;
  // Real-valued zero point with a min-max grid (brevitas float_zero): code = clamp(round(w/scale +
  // zero)).
  bool real_zero = false;
  // MSE clip search parameters (fit == kMse).
  double mse_norm = 2.4;
  int mse_grid = 100;
  double mse_maxshrink = 0.8;
  // A GGUF block type's fixed grid (quant/gguf_grid.h: fitted per block, static groups); the
  // value 0 (F32): none.
  GgmlType gguf{};
  GgufFit gguf_fit = GgufFit::kUnweighted;
  bool is_gguf() const { return gguf != GgmlType{}; }

  float qmin() const;
  float qmax() const;
  bool neuqi() const { return fit == GridFit::kNeuqi || fit == GridFit::kNeuqiInt; }
  // Whether the fit weights the columns by the calibration statistics (NeUQI, a GGUF grid
  // fitted as imatrix): the solvers then take those column weights.
  bool fit_weighted() const { return neuqi() || (is_gguf() && gguf_fit == GgufFit::kImatrix); }
  // Whether the zero point is added before rounding (real-valued zero: real_zero or NeUQI).
  bool zero_in_rounding() const { return real_zero || fit == GridFit::kNeuqi; }
  std::string describe() const;
};

// Throws loaq::Error for bits outside {2,…,8} or a group size that is not positive (or -1).
void validate(const GridConfig& g);

inline float quantize_code(float w, float scale, float zero, float qmin, float qmax);
// The same for a real-valued zero point: the zero is added before rounding (brevitas IntQuant).
inline float quantize_code_real_zero(float w, float scale, float zero, float qmin, float qmax);
// Dispatches on g.zero_in_rounding().
inline float quantize_code(const GridConfig& g, float w, float scale, float zero) {
  return g.zero_in_rounding() ? quantize_code_real_zero(w, scale, zero, g.qmin(), g.qmax())
                              : quantize_code(w, scale, zero, g.qmin(), g.qmax());
}
// dequantize(code, scale, zero): core/dequantize.h.

// Fits one scale and zero per row to the block w[r, 0..cols) (row stride ld), for `rows` rows.
// `h` [cols]: the weight of each column (diag H of the block) for NeUQI, which requires it (error
// otherwise); the other fits ignore it.
void fit_grid(const GridConfig& g, const float* w, int64_t rows, int64_t cols, int64_t ld,
              float* scale, float* zero, const double* h = nullptr);

}  // namespace loaq

#include "quant/grid_inl.h"
