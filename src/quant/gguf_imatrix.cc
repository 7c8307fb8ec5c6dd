#include "quant/gguf_imatrix.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "quant/gguf_search.h"

// Each quantizer follows its ggml-quants.c quantize_row_*_impl line by line (the same float
// expressions in the same order, no contraction: see CMakeLists.txt), for byte identity with
// llama-quantize --imatrix.

namespace loaq::gguf_imatrix {

namespace {

using gguf_search::make_qkx2_quants;
using gguf_search::make_qp_quants;
using gguf_search::make_qx_quants;
using gguf_search::nearest_int;

// The importance of each element: its imatrix weight times sqrt(σ² + x²).
void element_weights(const float* x, const float* qw, float sigma2, int n, float* w) {
  for (int l = 0; l < n; ++l) w[l] = qw[l] * std::sqrt(sigma2 + x[l] * x[l]);
}

// The super-block's Σx² (in element order).
float sum_sq256(const float* x) {
  float s = 0;
  for (int j = 0; j < 256; ++j) s += x[j] * x[j];
  return s;
}

// Symmetric blocks of 32 (Q4_0: nmax 8, Q5_0: 16): codes and scale by make_qx_quants, no
// requantization after the fp16 rounding of d.
template <int kNmax>
void quantize_sym(const float* x, const float* qw, float row_sigma2, GgufBlock& b) {
  float weight[32];
  int8_t L[32];
  element_weights(x, qw, row_sigma2, 32, weight);
  const float d = make_qx_quants(32, kNmax, x, L, 1, weight);
  b.d = f32_to_f16(d);
  for (int j = 0; j < 32; ++j) b.q[j] = L[j];
}

// Asymmetric blocks of 32 (Q4_1: nmax 15, Q5_1: 31): x ≈ d·q + m by make_qkx3_quants.
template <int kNmax>
void quantize_asym(const float* x, const float* qw, float row_sigma2, GgufBlock& b) {
  float weight[32];
  uint8_t L[32], Laux[32];
  element_weights(x, qw, row_sigma2, 32, weight);
  float min;
  const float d = make_qkx2_quants(32, kNmax, x, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
  b.d = f32_to_f16(d);
  b.dmin = f32_to_f16(-min);
  for (int j = 0; j < 32; ++j) b.q[j] = L[j];
}

// Q4_K / Q5_K: the 12 scale bytes assembled from the codes as llama.cpp assembles them (uint8
// arithmetic, whatever the codes' range), read back as ggml's get_scale_min_k4 reads them.
void set_scales_k4(const uint8_t* ls, const uint8_t* lm, GgufBlock& b) {
  uint8_t s[12];
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = uint8_t((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      s[j - 4] = uint8_t(s[j - 4] | ((ls[j] >> 4) << 6));
      s[j] = uint8_t(s[j] | ((lm[j] >> 4) << 6));
    }
  }
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      b.sc[j] = s[j] & 63;
      b.mn[j] = s[j + 4] & 63;
    } else {
      b.sc[j] = int16_t((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
      b.mn[j] = int16_t((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
  }
}

// Q4_K (nmax 15) and Q5_K (31, whose scale codes are clamped to 63 first).
template <int kNmax>
void quantize_q45_k(const float* x, const float* qw, GgufBlock& b) {
  uint8_t L[256], Laux[32], Ls[8], Lm[8];
  float weights[32], sw[8], mins[8], scales[8];
  const float sigma2 = 2 * sum_sq256(x) / 256;
  for (int j = 0; j < 8; ++j) {
    element_weights(x + 32 * j, qw + 32 * j, sigma2, 32, weights);
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = make_qkx2_quants(32, kNmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f,
                                 0.05f, 36, false);
  }
  const float d_block = make_qp_quants(8, 63, scales, Ls, sw);
  const float m_block = make_qp_quants(8, 63, mins, Lm, sw);
  if constexpr (kNmax == 31) {
    for (int j = 0; j < 8; ++j) {
      Ls[j] = std::min<uint8_t>(63, Ls[j]);
      Lm[j] = std::min<uint8_t>(63, Lm[j]);
    }
  }
  set_scales_k4(Ls, Lm, b);
  b.d = f32_to_f16(d_block);
  b.dmin = f32_to_f16(m_block);
  for (int j = 0; j < 8; ++j) {
    const float d = f16_to_f32(b.d) * float(b.sc[j]);
    if (!d) continue;  // the sub-block keeps the codes of its own fit
    const float dm = f16_to_f32(b.dmin) * float(b.mn[j]);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(kNmax, l)));
    }
  }
  for (int j = 0; j < 256; ++j) b.q[j] = L[j];
}

}  // namespace

void quantize_q4_0(const float* x, const float* qw, float row_sigma2, GgufBlock& b) {
  quantize_sym<8>(x, qw, row_sigma2, b);
}
void quantize_q5_0(const float* x, const float* qw, float row_sigma2, GgufBlock& b) {
  quantize_sym<16>(x, qw, row_sigma2, b);
}
void quantize_q4_1(const float* x, const float* qw, float row_sigma2, GgufBlock& b) {
  quantize_asym<15>(x, qw, row_sigma2, b);
}
void quantize_q5_1(const float* x, const float* qw, float row_sigma2, GgufBlock& b) {
  quantize_asym<31>(x, qw, row_sigma2, b);
}

// 16 sub-blocks of 16: each fitted with a min (make_qkx3_quants), then the 4-bit scale and min
// codes by make_qp_quants weighted by the sub-blocks' total importance, then the codes again on
// the quantized scales.
void quantize_q2_k(const float* x, const float* qw, float /*row_sigma2*/, GgufBlock& b) {
  uint8_t L[256], Laux[16], Ls[16], Lm[16];
  float mins[16], scales[16], sw[16] = {}, weight[16];
  const float sigma2 = sum_sq256(x) / 256;
  for (int j = 0; j < 16; ++j) {
    element_weights(x + 16 * j, qw + 16 * j, sigma2, 16, weight);
    for (int l = 0; l < 16; ++l) sw[j] += weight[l];
    scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f,
                                 0.05f, 36, false);
  }
  float dm = make_qp_quants(16, 15, scales, Ls, sw);
  float mm = make_qp_quants(16, 15, mins, Lm, sw);
  b.d = f32_to_f16(dm);
  b.dmin = f32_to_f16(mm);
  dm = f16_to_f32(b.d);
  mm = f16_to_f32(b.dmin);
  for (int j = 0; j < 16; ++j) {
    const auto byte = uint8_t(Ls[j] | (Lm[j] << 4));  // the format's scale byte
    b.sc[j] = byte & 0xF;
    b.mn[j] = byte >> 4;
  }
  for (int j = 0; j < 16; ++j) {
    const float d = dm * float(b.sc[j]);
    if (!d) continue;  // the sub-block keeps the codes of its own fit
    const float m = mm * float(b.mn[j]);
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int((x[16 * j + ii] + m) / d);
      L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
    }
  }
  for (int j = 0; j < 256; ++j) b.q[j] = L[j];
}

// 16 sub-blocks of 16: symmetric codes by make_qx_quants with the element weights, the signed
// 6-bit scale codes by make_qx_quants weighted by the sub-blocks' total importance.
void quantize_q3_k(const float* x, const float* qw, float /*row_sigma2*/, GgufBlock& b) {
  int8_t L[256], Ls[16];
  float scales[16], weight[16], sw[16];
  const float sigma2 = 2 * sum_sq256(x) / 256;
  for (int j = 0; j < 16; ++j) {
    element_weights(x + 16 * j, qw + 16 * j, sigma2, 16, weight);
    float sumw = 0;
    for (int l = 0; l < 16; ++l) sumw += weight[l];
    sw[j] = sumw;
    scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
  }
  const float d_block = make_qx_quants(16, 32, scales, Ls, 1, sw);
  for (int j = 0; j < 16; ++j) b.sc[j] = int16_t(Ls[j] - 32);  // Ls in 0..63
  b.d = f32_to_f16(d_block);
  for (int j = 0; j < 16; ++j) {
    const float d = f16_to_f32(b.d) * float(b.sc[j]);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t(std::max(-4, std::min(3, l)) + 4);
    }
  }
  for (int j = 0; j < 256; ++j) b.q[j] = L[j];
}

void quantize_q4_k(const float* x, const float* qw, float /*row_sigma2*/, GgufBlock& b) {
  quantize_q45_k<15>(x, qw, b);
}
void quantize_q5_k(const float* x, const float* qw, float /*row_sigma2*/, GgufBlock& b) {
  quantize_q45_k<31>(x, qw, b);
}

}  // namespace loaq::gguf_imatrix
