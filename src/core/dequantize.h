#pragma once
// The dequantization of a uniform grid's integer code, scale · (code − zero) in float32, and of
// one row of a quantized linear stored as integer state (quant_state.safetensors,
// pipeline/output.h). The solvers (quant/), the writer that decides whether a linear's weight is
// stored (pipeline/output.cc) and the loaders that dequantize it at load (io/quant_state.h) all
// compute it here, so that a weight dequantized at load is bit for bit the one the solver made.
// It sits in core because io (which reads the state) comes before quant in the module order.
#include <cstdint>

namespace loaq {

inline float dequantize(float code, float scale, float zero) {
  return scale * (code - zero);
}

// w[c] = scale[g_idx[c]] · (code[c] − zero[g_idx[c]]) for c in [0, in): one output row, its
// codes in the original column order, `scale` and `zero` that row's groups.
template <class Code>
void dequantize_row(const Code* code, const float* scale, const float* zero, const int32_t* g_idx,
                    int64_t in, float* w) {
  for (int64_t c = 0; c < in; ++c)
    w[c] = dequantize(float(code[c]), scale[g_idx[c]], zero[g_idx[c]]);
}

}  // namespace loaq
