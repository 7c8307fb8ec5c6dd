#include "quant/gguf_block.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "quant/gguf_imatrix.h"
#include "quant/gguf_search.h"

// The reference quantizers below follow llama.cpp's ggml-quants.c operation by operation (the
// same float expressions in the same order, no contraction: see CMakeLists.txt), because the
// point is byte identity with llama-quantize.

namespace loaq {

namespace {

using gguf_search::kGroupMaxEps;
using gguf_search::make_q3_quants;
using gguf_search::make_qkx2_quants;
using gguf_search::make_qx_quants;
using gguf_search::nearest_int;

float h2f(uint16_t h) {
  return f16_to_f32(h);
}
uint16_t f2h(float f) {
  return f32_to_f16(f);
}

uint16_t rd16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void wr16(uint8_t* p, uint16_t v) {
  std::memcpy(p, &v, 2);
}

// ---- the 32-element formats ---------------------------------------------------------------------

// Symmetric blocks: x ≈ d·(q − z), d = max / −z (Q4_0: z 8, 4 bits; Q5_0: z 16, 5 bits).
template <int kZ>
void quantize_sym_ref(const float* x, GgufBlock& b) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -kZ;
  const float id = d ? 1.0f / d : 0.0f;
  b.d = f2h(d);
  for (int j = 0; j < 32; ++j) {
    const float v = x[j] * id;
    b.q[j] = int16_t(std::min(2 * kZ - 1, int(int8_t(v + (float(kZ) + 0.5f)))));
  }
}

// Asymmetric blocks: x ≈ d·q + m with m the block's minimum (Q4_1: 4 bits, Q5_1: 5 bits).
template <int kBits>
void quantize_asym_ref(const float* x, GgufBlock& b) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < 32; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const float d = (max - min) / ((1 << kBits) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  b.d = f2h(d);
  b.dmin = f2h(min);
  for (int j = 0; j < 32; ++j) {
    const float v = (x[j] - min) * id;
    if constexpr (kBits == 4) {
      b.q[j] = int16_t(std::min(15, int(int8_t(v + 0.5f))));
    } else {
      b.q[j] = int16_t(uint8_t(v + 0.5f));
    }
  }
}

void quantize_q8_0_ref(const float* x, GgufBlock& b) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / ((1 << 7) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  b.d = f2h(d);
  for (int j = 0; j < 32; ++j) b.q[j] = int16_t(int8_t(std::round(x[j] * id)));
}

// 4-bit codes of 32 elements: byte j holds q[j] (low nibble) and q[j + 16] (high).
void pack_nibbles32(const GgufBlock& b, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = uint8_t((b.q[j] & 0xF) | ((b.q[j + 16] & 0xF) << 4));
}
void unpack_nibbles32(const uint8_t* qs, GgufBlock& b) {
  for (int j = 0; j < 16; ++j) {
    b.q[j] = qs[j] & 0xF;
    b.q[j + 16] = qs[j] >> 4;
  }
}
// The fifth bits of 32 codes, bit j of a little-endian u32.
void pack_high32(const GgufBlock& b, uint8_t* qh) {
  uint32_t h = 0;
  for (int j = 0; j < 32; ++j) h |= uint32_t((b.q[j] >> 4) & 1) << j;
  std::memcpy(qh, &h, 4);
}
void unpack_high32(const uint8_t* qh, GgufBlock& b) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  for (int j = 0; j < 32; ++j) b.q[j] = int16_t(b.q[j] | (((h >> j) & 1) << 4));
}

void pack_q4_0(const GgufBlock& b, uint8_t* o) {
  wr16(o, b.d), pack_nibbles32(b, o + 2);
}
void unpack_q4_0(const uint8_t* i, GgufBlock& b) {
  b.d = rd16(i), unpack_nibbles32(i + 2, b);
}
void pack_q4_1(const GgufBlock& b, uint8_t* o) {
  wr16(o, b.d), wr16(o + 2, b.dmin), pack_nibbles32(b, o + 4);
}
void unpack_q4_1(const uint8_t* i, GgufBlock& b) {
  b.d = rd16(i), b.dmin = rd16(i + 2), unpack_nibbles32(i + 4, b);
}
void pack_q5_0(const GgufBlock& b, uint8_t* o) {
  wr16(o, b.d), pack_high32(b, o + 2), pack_nibbles32(b, o + 6);
}
void unpack_q5_0(const uint8_t* i, GgufBlock& b) {
  b.d = rd16(i), unpack_nibbles32(i + 6, b), unpack_high32(i + 2, b);
}
void pack_q5_1(const GgufBlock& b, uint8_t* o) {
  wr16(o, b.d), wr16(o + 2, b.dmin), pack_high32(b, o + 4), pack_nibbles32(b, o + 8);
}
void unpack_q5_1(const uint8_t* i, GgufBlock& b) {
  b.d = rd16(i), b.dmin = rd16(i + 2), unpack_nibbles32(i + 8, b), unpack_high32(i + 4, b);
}
void pack_q8_0(const GgufBlock& b, uint8_t* o) {
  wr16(o, b.d);
  for (int j = 0; j < 32; ++j) o[2 + j] = uint8_t(int8_t(b.q[j]));
}
void unpack_q8_0(const uint8_t* i, GgufBlock& b) {
  b.d = rd16(i);
  for (int j = 0; j < 32; ++j) b.q[j] = int8_t(i[2 + j]);
}

template <int kZ>
void dequantize_sym(const GgufBlock& b, float* y) {
  const float d = h2f(b.d);
  for (int j = 0; j < 32; ++j) y[j] = float(b.q[j] - kZ) * d;
}
void dequantize_asym(const GgufBlock& b, float* y) {
  const float d = h2f(b.d), m = h2f(b.dmin);
  for (int j = 0; j < 32; ++j) y[j] = float(b.q[j]) * d + m;
}

// ---- Q2_K: 16 sub-blocks of 16, 4-bit scale and min codes, 2-bit q ----------------------------

void quantize_q2_k_ref(const float* x, GgufBlock& b) {
  uint8_t L[256], Laux[16];
  float weights[16], mins[16], scales[16];
  const float q4scale = 15.f;
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                 0.1f, 15, true);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  uint8_t packed[16] = {};
  if (max_scale > 0) {
    const float iscale = q4scale / max_scale;
    for (int j = 0; j < 16; ++j) packed[j] = uint8_t(nearest_int(iscale * scales[j]));
    b.d = f2h(max_scale / q4scale);
  } else {
    b.d = f2h(0.f);
  }
  if (max_min > 0) {
    const float iscale = q4scale / max_min;
    for (int j = 0; j < 16; ++j)
      packed[j] = uint8_t(packed[j] | (nearest_int(iscale * mins[j]) << 4));
    b.dmin = f2h(max_min / q4scale);
  } else {
    b.dmin = f2h(0.f);
  }
  for (int j = 0; j < 16; ++j) {
    b.sc[j] = packed[j] & 0xF;
    b.mn[j] = packed[j] >> 4;
    const float d = h2f(b.d) * float(b.sc[j]);
    if (!d) continue;
    const float dm = h2f(b.dmin) * float(b.mn[j]);
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int((x[16 * j + ii] + dm) / d);
      L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
    }
  }
  for (int j = 0; j < 256; ++j) b.q[j] = L[j];
}

// 2-bit codes of 256 elements: in each half of 128, byte l holds elements l, l+32, l+64, l+96.
void pack_2bit(const int16_t* q, uint8_t* qs) {
  for (int j = 0; j < 256; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t((q[j + l] & 3) | ((q[j + l + 32] & 3) << 2) |
                              ((q[j + l + 64] & 3) << 4) | ((q[j + l + 96] & 3) << 6));
}
void unpack_2bit(const uint8_t* qs, int16_t* q) {
  for (int j = 0; j < 256; j += 128)
    for (int l = 0; l < 32; ++l)
      for (int k = 0; k < 4; ++k) q[j + l + 32 * k] = (qs[j / 4 + l] >> (2 * k)) & 3;
}

// Layout: scales[16] (sc | mn << 4), qs[64], d, dmin.
void pack_q2_k(const GgufBlock& b, uint8_t* o) {
  for (int j = 0; j < 16; ++j) o[j] = uint8_t((b.sc[j] & 0xF) | ((b.mn[j] & 0xF) << 4));
  pack_2bit(b.q, o + 16);
  wr16(o + 80, b.d);
  wr16(o + 82, b.dmin);
}
void unpack_q2_k(const uint8_t* i, GgufBlock& b) {
  for (int j = 0; j < 16; ++j) {
    b.sc[j] = i[j] & 0xF;
    b.mn[j] = i[j] >> 4;
  }
  unpack_2bit(i + 16, b.q);
  b.d = rd16(i + 80);
  b.dmin = rd16(i + 82);
}
void dequantize_q2_k(const GgufBlock& b, float* y) {
  const float d = h2f(b.d), min = h2f(b.dmin);
  for (int j = 0; j < 16; ++j) {
    const float dl = d * float(b.sc[j]), ml = min * float(b.mn[j]);
    for (int l = 0; l < 16; ++l) y[16 * j + l] = dl * float(b.q[16 * j + l]) - ml;
  }
}

// ---- Q3_K: 16 sub-blocks of 16, signed 6-bit scales, 3-bit q (2 low bits + a high-bit mask) -----

void quantize_q3_k_ref(const float* x, GgufBlock& b) {
  int8_t L[256];
  float scales[16];
  float max_scale = 0, amax = 0;
  for (int j = 0; j < 16; ++j) {
    scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
    const float scale = std::fabs(scales[j]);
    if (scale > amax) {
      amax = scale;
      max_scale = scales[j];
    }
  }
  if (max_scale) {
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < 16; ++j) {
      const int8_t l = int8_t(nearest_int(iscale * scales[j]));
      b.sc[j] = int16_t(std::max<int>(-32, std::min<int>(31, l)));
    }
    b.d = f2h(1 / iscale);
  } else {
    for (int j = 0; j < 16; ++j) b.sc[j] = -32;  // the zeroed scale bytes
    b.d = f2h(0.f);
  }
  for (int j = 0; j < 16; ++j) {
    const float d = h2f(b.d) * float(b.sc[j]);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearest_int(x[16 * j + ii] / d);
      l = std::max(-4, std::min(3, l));
      L[16 * j + ii] = int8_t(l + 4);
    }
  }
  for (int j = 0; j < 256; ++j) b.q[j] = L[j];
}

// Layout: hmask[32], qs[64], scales[12], d. The high bit of element j is bit j/32 of hmask[j%32];
// the 6-bit scale codes (sc + 32): low nibbles in scales[0..7], high 2 bits in scales[8..11].
void pack_q3_k(const GgufBlock& b, uint8_t* o) {
  std::memset(o, 0, 110);
  int16_t low[256];
  for (int j = 0; j < 256; ++j) {
    if (b.q[j] > 3) o[j % 32] = uint8_t(o[j % 32] | (1 << (j / 32)));
    low[j] = int16_t(b.q[j] & 3);
  }
  pack_2bit(low, o + 32);
  uint8_t* s = o + 96;
  for (int j = 0; j < 16; ++j) {
    const int l = (b.sc[j] + 32) & 63;
    if (j < 8) {
      s[j] = uint8_t(l & 0xF);
    } else {
      s[j - 8] = uint8_t(s[j - 8] | ((l & 0xF) << 4));
    }
    s[j % 4 + 8] = uint8_t(s[j % 4 + 8] | ((l >> 4) << (2 * (j / 4))));
  }
  wr16(o + 108, b.d);
}
void unpack_q3_k(const uint8_t* i, GgufBlock& b) {
  unpack_2bit(i + 32, b.q);
  for (int j = 0; j < 256; ++j)
    if (i[j % 32] & (1 << (j / 32))) b.q[j] = int16_t(b.q[j] + 4);
  const uint8_t* s = i + 96;
  for (int j = 0; j < 16; ++j) {
    const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    b.sc[j] = int16_t((lo | (hi << 4)) - 32);
  }
  b.d = rd16(i + 108);
}
void dequantize_q3_k(const GgufBlock& b, float* y) {
  const float d_all = h2f(b.d);
  for (int j = 0; j < 16; ++j) {
    const float dl = d_all * float(b.sc[j]);
    for (int l = 0; l < 16; ++l) y[16 * j + l] = dl * float(b.q[16 * j + l] - 4);
  }
}

// ---- Q4_K and Q5_K: 8 sub-blocks of 32, 6-bit scale and min codes -------------------------------

template <int kNmax>
void quantize_q45_k_ref(const float* x, GgufBlock& b) {
  uint8_t L[256], Laux[32];
  float weights[32], mins[8], scales[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    if constexpr (kNmax == 15) {
      scales[j] = make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -1.f,
                                   0.1f, 20, false);
    } else {
      scales[j] = make_qkx2_quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.5f,
                                   0.1f, 15, false);
    }
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < 8; ++j) {
    b.sc[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
    b.mn[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
  }
  b.d = f2h(max_scale / 63.f);
  b.dmin = f2h(max_min / 63.f);
  for (int j = 0; j < 8; ++j) {
    const float d = h2f(b.d) * float(b.sc[j]);
    if (!d) continue;
    const float dm = h2f(b.dmin) * float(b.mn[j]);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(kNmax, l)));
    }
  }
  for (int j = 0; j < 256; ++j) b.q[j] = L[j];
}

// The 12 bytes of 8 six-bit scale and min codes (ggml's get_scale_min_k4 layout).
void pack_scales_k4(const GgufBlock& b, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 8; ++j) {
    const int ls = b.sc[j] & 63, lm = b.mn[j] & 63;
    if (j < 4) {
      s[j] = uint8_t(s[j] | ls);
      s[j + 4] = uint8_t(s[j + 4] | lm);
    } else {
      s[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
      s[j - 4] = uint8_t(s[j - 4] | ((ls >> 4) << 6));
      s[j] = uint8_t(s[j] | ((lm >> 4) << 6));
    }
  }
}
void unpack_scales_k4(const uint8_t* s, GgufBlock& b) {
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

// Layout: d, dmin, scales[12], qs[128]; qs byte 32c + l holds elements 64c + l (low nibble) and
// 64c + l + 32 (high).
void pack_q4_k(const GgufBlock& b, uint8_t* o) {
  wr16(o, b.d);
  wr16(o + 2, b.dmin);
  pack_scales_k4(b, o + 4);
  uint8_t* q = o + 16;
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      q[32 * c + l] = uint8_t((b.q[64 * c + l] & 0xF) | ((b.q[64 * c + l + 32] & 0xF) << 4));
}
void unpack_q4_k(const uint8_t* i, GgufBlock& b) {
  b.d = rd16(i);
  b.dmin = rd16(i + 2);
  unpack_scales_k4(i + 4, b);
  const uint8_t* q = i + 16;
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      b.q[64 * c + l] = q[32 * c + l] & 0xF;
      b.q[64 * c + l + 32] = q[32 * c + l] >> 4;
    }
}
// Layout: d, dmin, scales[12], qh[32], qs[128]; the fifth bit of element 64c + l is bit 2c of
// qh[l], of element 64c + l + 32 bit 2c + 1.
void pack_q5_k(const GgufBlock& b, uint8_t* o) {
  wr16(o, b.d);
  wr16(o + 2, b.dmin);
  pack_scales_k4(b, o + 4);
  uint8_t* qh = o + 16;
  uint8_t* ql = o + 48;
  std::memset(qh, 0, 32);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int l1 = b.q[64 * c + l], l2 = b.q[64 * c + l + 32];
      if (l1 > 15) qh[l] = uint8_t(qh[l] | (1 << (2 * c)));
      if (l2 > 15) qh[l] = uint8_t(qh[l] | (2 << (2 * c)));
      ql[32 * c + l] = uint8_t((l1 & 0xF) | ((l2 & 0xF) << 4));
    }
}
void unpack_q5_k(const uint8_t* i, GgufBlock& b) {
  b.d = rd16(i);
  b.dmin = rd16(i + 2);
  unpack_scales_k4(i + 4, b);
  const uint8_t* qh = i + 16;
  const uint8_t* ql = i + 48;
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      b.q[64 * c + l] = int16_t((ql[32 * c + l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4));
      b.q[64 * c + l + 32] = int16_t((ql[32 * c + l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4));
    }
}
void dequantize_q45_k(const GgufBlock& b, float* y) {
  const float d = h2f(b.d), min = h2f(b.dmin);
  for (int j = 0; j < 8; ++j) {
    const float d1 = d * float(b.sc[j]), m1 = min * float(b.mn[j]);
    for (int l = 0; l < 32; ++l) y[32 * j + l] = d1 * float(b.q[32 * j + l]) - m1;
  }
}

// ---- Q6_K: 16 sub-blocks of 16, signed 8-bit scales, 6-bit q -----------------------------------

// With qw, llama.cpp's weighted Q6_K: the same search with the imatrix values as its weights.
void quantize_q6_k(const float* x, const float* qw, GgufBlock& b) {
  int8_t L[256];
  float scales[16];
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    const float scale =
        make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw ? qw + 16 * ib : nullptr);
    scales[ib] = scale;
    const float abs_scale = std::fabs(scale);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scale;
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    b = GgufBlock{};
    return;
  }
  const float iscale = -128.f / max_scale;
  b.d = f2h(1 / iscale);
  for (int ib = 0; ib < 16; ++ib)
    b.sc[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
  for (int j = 0; j < 16; ++j) {
    const float d = h2f(b.d) * float(b.sc[j]);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearest_int(x[16 * j + ii] / d);
      l = std::max(-32, std::min(31, l));
      L[16 * j + ii] = int8_t(l + 32);
    }
  }
  for (int j = 0; j < 256; ++j) b.q[j] = L[j];
}

void quantize_q6_k_ref(const float* x, GgufBlock& b) {
  quantize_q6_k(x, nullptr, b);
}
void quantize_q6_k_imatrix(const float* x, const float* qw, float /*row_sigma2*/, GgufBlock& b) {
  quantize_q6_k(x, qw, b);
}

// Layout: ql[128], qh[64], scales[16] (int8), d. In half h (128 elements) and lane l < 32:
// ql[64h + l] = q[l] | q[l+64] << 4, ql[64h + l + 32] = q[l+32] | q[l+96] << 4 (low nibbles),
// qh[32h + l] = the high 2 bits of q[l], q[l+32], q[l+64], q[l+96].
void pack_q6_k(const GgufBlock& b, uint8_t* o) {
  uint8_t* ql = o;
  uint8_t* qh = o + 128;
  for (int h = 0; h < 2; ++h) {
    const int16_t* q = b.q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      ql[64 * h + l] = uint8_t((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
      ql[64 * h + l + 32] = uint8_t((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
      qh[32 * h + l] = uint8_t(((q[l] >> 4) & 3) | (((q[l + 32] >> 4) & 3) << 2) |
                               (((q[l + 64] >> 4) & 3) << 4) | (((q[l + 96] >> 4) & 3) << 6));
    }
  }
  for (int j = 0; j < 16; ++j) o[192 + j] = uint8_t(int8_t(b.sc[j]));
  wr16(o + 208, b.d);
}
void unpack_q6_k(const uint8_t* i, GgufBlock& b) {
  const uint8_t* ql = i;
  const uint8_t* qh = i + 128;
  for (int h = 0; h < 2; ++h) {
    int16_t* q = b.q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const uint8_t a = ql[64 * h + l], c = ql[64 * h + l + 32], hb = qh[32 * h + l];
      q[l] = int16_t((a & 0xF) | ((hb & 3) << 4));
      q[l + 32] = int16_t((c & 0xF) | (((hb >> 2) & 3) << 4));
      q[l + 64] = int16_t((a >> 4) | (((hb >> 4) & 3) << 4));
      q[l + 96] = int16_t((c >> 4) | (((hb >> 6) & 3) << 4));
    }
  }
  for (int j = 0; j < 16; ++j) b.sc[j] = int8_t(i[192 + j]);
  b.d = rd16(i + 208);
}
void dequantize_q6_k(const GgufBlock& b, float* y) {
  const float d = h2f(b.d);
  for (int j = 0; j < 16; ++j)
    for (int l = 0; l < 16; ++l) y[16 * j + l] = d * float(b.sc[j]) * float(b.q[16 * j + l] - 32);
}

// The one table of block formats.
namespace im = gguf_imatrix;
constexpr GgufBlockFormat kFormats[] = {
    {GgmlType::Q4_0, 32, 32, 0, 15, false, GgmlType::F16, quantize_sym_ref<8>, im::quantize_q4_0,
     pack_q4_0, unpack_q4_0, dequantize_sym<8>},
    {GgmlType::Q4_1, 32, 32, 0, 15, true, GgmlType::F16, quantize_asym_ref<4>, im::quantize_q4_1,
     pack_q4_1, unpack_q4_1, dequantize_asym},
    {GgmlType::Q5_0, 32, 32, 0, 31, false, GgmlType::F16, quantize_sym_ref<16>, im::quantize_q5_0,
     pack_q5_0, unpack_q5_0, dequantize_sym<16>},
    {GgmlType::Q5_1, 32, 32, 0, 31, true, GgmlType::F16, quantize_asym_ref<5>, im::quantize_q5_1,
     pack_q5_1, unpack_q5_1, dequantize_asym},
    {GgmlType::Q8_0, 32, 32, -128, 127, false, GgmlType::F16, quantize_q8_0_ref, nullptr, pack_q8_0,
     unpack_q8_0, dequantize_sym<0>},
    {GgmlType::Q2_K, 256, 16, 0, 3, true, GgmlType::Q4_0, quantize_q2_k_ref, im::quantize_q2_k,
     pack_q2_k, unpack_q2_k, dequantize_q2_k},
    {GgmlType::Q3_K, 256, 16, 0, 7, false, GgmlType::Q4_0, quantize_q3_k_ref, im::quantize_q3_k,
     pack_q3_k, unpack_q3_k, dequantize_q3_k},
    {GgmlType::Q4_K, 256, 32, 0, 15, true, GgmlType::Q5_0, quantize_q45_k_ref<15>,
     im::quantize_q4_k, pack_q4_k, unpack_q4_k, dequantize_q45_k},
    {GgmlType::Q5_K, 256, 32, 0, 31, true, GgmlType::Q5_1, quantize_q45_k_ref<31>,
     im::quantize_q5_k, pack_q5_k, unpack_q5_k, dequantize_q45_k},
    {GgmlType::Q6_K, 256, 16, 0, 63, false, GgmlType::Q8_0, quantize_q6_k_ref,
     quantize_q6_k_imatrix, pack_q6_k, unpack_q6_k, dequantize_q6_k},
};

bool is_float_type(GgmlType t) {
  return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
}

}  // namespace

const GgufBlockFormat* gguf_block_format(GgmlType type) {
  for (const auto& f : kFormats)
    if (f.type == type) return &f;
  return nullptr;
}

std::vector<GgmlType> gguf_block_types() {
  std::vector<GgmlType> out;
  for (const auto& f : kFormats) out.push_back(f.type);
  return out;
}

bool gguf_codec_supported(GgmlType type) {
  return is_float_type(type) || gguf_block_format(type) != nullptr;
}

float gguf_row_sigma2(const float* row, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += row[j] * row[j];
  return sum_x2 / float(n);
}

void gguf_fit_block(const GgufBlockFormat& f, const float* x, const float* qw, float row_sigma2,
                    GgufBlock& b) {
  b = GgufBlock{};
  if (qw && f.quantize_imatrix) {
    f.quantize_imatrix(x, qw, row_sigma2, b);
  } else {
    f.quantize_ref(x, b);
  }
}

std::vector<std::byte> gguf_quantize(GgmlType type, const float* x, int64_t rows, int64_t n_per_row,
                                     const float* imatrix) {
  const auto& info = ggml_type_info(type);
  if (rows < 0 || n_per_row < 0 || n_per_row % info.block != 0)
    fail("{}: rows of {} values are not a whole number of blocks of {}", info.name, n_per_row,
         info.block);
  const int64_t n = rows * n_per_row;
  std::vector<std::byte> out(size_t(n / info.block * info.bytes));
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  if (type == GgmlType::F32) {
    std::memcpy(o, x, size_t(n) * 4);
  } else if (type == GgmlType::F16 || type == GgmlType::BF16) {
    for (int64_t i = 0; i < n; ++i)
      wr16(o + 2 * i, type == GgmlType::F16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]));
  } else {
    const auto* f = gguf_block_format(type);
    if (!f) fail("no codec for ggml type {}", info.name);
    GgufBlock b;
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * n_per_row;
      const float sigma2 = imatrix ? gguf_row_sigma2(row, n_per_row) : 0.0f;
      for (int64_t c = 0; c < n_per_row; c += f->block) {
        gguf_fit_block(*f, row + c, imatrix ? imatrix + c : nullptr, sigma2, b);
        f->pack(b, o);
        o += info.bytes;
      }
    }
  }
  return out;
}

std::vector<std::byte> gguf_quantize_ref(GgmlType type, const float* x, int64_t n) {
  return gguf_quantize(type, x, 1, n, nullptr);
}

void gguf_dequantize(GgmlType type, std::span<const std::byte> bytes, float* y, int64_t n) {
  const auto& info = ggml_type_info(type);
  if (n % info.block != 0 || uint64_t(bytes.size()) != uint64_t(n / info.block * info.bytes))
    fail("{}: {} bytes do not hold {} values", info.name, bytes.size(), n);
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
  if (type == GgmlType::F32) {
    std::memcpy(y, in, size_t(n) * 4);
  } else if (type == GgmlType::F16 || type == GgmlType::BF16) {
    for (int64_t i = 0; i < n; ++i)
      y[i] = type == GgmlType::F16 ? f16_to_f32(rd16(in + 2 * i)) : bf16_to_f32(rd16(in + 2 * i));
  } else {
    const auto* f = gguf_block_format(type);
    if (!f) fail("ggml type {} cannot be dequantized by loaq", info.name);
    GgufBlock b;
    for (int64_t i = 0; i < n / f->block; ++i) {
      f->unpack(in + i * info.bytes, b);
      f->dequantize(b, y + i * f->block);
    }
  }
}

}  // namespace loaq
