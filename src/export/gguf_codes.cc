#include "export/gguf_codes.h"

#include <cmath>

#include "core/dtype.h"
#include "core/error.h"
#include "quant/gguf_block.h"
#include "quant/gguf_grid.h"

namespace loaq {

namespace {

constexpr float kTiny = kGgufTinyScale;

// The integer zero of each type's codes as QuantDir gives them (signed codes shifted by 2^(b−1)).
float int_zero(GgmlType t) {
  return t == GgmlType::Q8_0 ? 128.0f : gguf_int_zero(t);
}

bool exact_f16(float v) {
  return f16_to_f32(f32_to_f16(v)) == v;
}

// An fp16 d and integer codes k_j in [lo, hi] with d·k_j == v_j exactly (v_j == kTiny: k_j = 0).
bool factor_exact(const std::vector<float>& v, int lo, int hi, uint16_t& d, std::vector<int>& k) {
  float vmax = 0;
  for (float x : v)
    if (x != kTiny && std::fabs(x) > std::fabs(vmax)) vmax = x;
  k.assign(v.size(), 0);
  if (vmax == 0) return d = 0, true;
  for (int n = 1; n <= std::max(hi, -lo); ++n)
    for (int sign : {1, -1}) {
      const int kn = sign * n;
      if (kn < lo || kn > hi) continue;
      const float dc = vmax / float(kn);
      if (!exact_f16(dc)) continue;
      bool ok = true;
      for (size_t j = 0; j < v.size() && ok; ++j) {
        if (v[j] == kTiny) continue;
        const float q = std::nearbyint(v[j] / dc);
        ok = q >= float(lo) && q <= float(hi) && dc * q == v[j];
        k[j] = int(q);
      }
      if (ok) return d = f32_to_f16(dc), true;
    }
  return false;
}

// An fp16 dmin and integer codes in [0, hi] with dmin·k_j ≈ m_j (the mins went through a
// division and a product in float): the candidate with the least relative error, if below 1e-5.
bool factor_mins(const std::vector<float>& m, int hi, uint16_t& d, std::vector<int>& k) {
  float mmax = 0;
  for (float x : m) mmax = std::max(mmax, x);
  k.assign(m.size(), 0);
  if (mmax <= 0) return d = 0, true;
  double best = 1e-5;
  bool found = false;
  for (int n = 1; n <= hi; ++n) {
    const uint16_t dh = f32_to_f16(mmax / float(n));
    const float dc = f16_to_f32(dh);
    if (dc <= 0) continue;
    double err = 0;
    std::vector<int> kk(m.size());
    for (size_t j = 0; j < m.size(); ++j) {
      const float q = std::nearbyint(m[j] / dc);
      if (q < 0 || q > float(hi)) err = 1;
      kk[j] = int(q);
      err = std::max(err, std::fabs(double(dc) * q - m[j]) / double(mmax));
    }
    if (err < best) best = err, d = dh, k = kk, found = true;
  }
  return found;
}

}  // namespace

bool state_fits_gguf_type(const LinearState& s, GgmlType type) {
  const auto* f = gguf_block_format(type);
  if (!f || s.in % f->block != 0 || s.groups * f->group != s.in) return false;
  const uint32_t span = uint32_t(f->qmax - f->qmin);
  for (uint32_t c : s.codes)
    if (c > span) return false;
  if (!f->has_min)
    for (float z : s.zero)
      if (z != int_zero(type)) return false;
  return true;
}

std::vector<std::byte> pack_gguf_state(const LinearState& s, GgmlType type) {
  const auto* f = gguf_block_format(type);
  const auto& info = ggml_type_info(type);
  if (!state_fits_gguf_type(s, type))
    fail("{}: its quantized state is not on the {} grid", s.name, info.name);
  for (int64_t c = 0; c < s.in; ++c)
    if (s.g_idx[size_t(c)] != int32_t(c / f->group))
      fail("{}: groups are not the original column blocks (g_idx), which GGUF needs", s.name);
  const int64_t per_block = f->block / f->group;
  std::vector<std::byte> out(size_t(s.out * (s.in / f->block) * info.bytes));
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  for (int64_t row = 0; row < s.out; ++row)
    for (int64_t b0 = 0; b0 < s.in; b0 += f->block) {
      GgufBlock b;
      const size_t g0 = size_t(row * s.groups + b0 / f->group);
      std::vector<float> sc(static_cast<size_t>(per_block)), mn(static_cast<size_t>(per_block));
      for (int64_t j = 0; j < per_block; ++j) {
        sc[size_t(j)] = s.scale[g0 + size_t(j)];
        const float z = s.zero[g0 + size_t(j)];
        mn[size_t(j)] = sc[size_t(j)] * z;  // the value subtracted: x = s·q − s·z
      }
      const float shift = type == GgmlType::Q8_0 ? 128.0f : 0.0f;
      if (f->block == 32) {
        const float d = sc[0] == kTiny ? 0.0f : sc[0];
        if (!exact_f16(d)) fail("{}: scale {} is not an fp16 value", s.name, d);
        b.d = f32_to_f16(d);
        if (f->has_min) b.dmin = f32_to_f16(-mn[0]);
      } else {
        std::vector<int> ks, km;
        const int lo = type == GgmlType::Q3_K ? -32 : type == GgmlType::Q6_K ? -128 : 0;
        const int hi = type == GgmlType::Q3_K   ? 31
                       : type == GgmlType::Q6_K ? 127
                       : type == GgmlType::Q2_K ? 15
                                                : 63;
        if (!factor_exact(sc, lo, hi, b.d, ks))
          fail("{}: row {}, block at {}: no fp16 d and sub-block codes give its scales", s.name,
               row, b0);
        for (int64_t j = 0; j < per_block; ++j) b.sc[j] = int16_t(ks[size_t(j)]);
        if (f->has_min) {
          for (float& m : mn) m = m == 0.0f ? 0.0f : m;
          if (!factor_mins(mn, hi, b.dmin, km))
            fail("{}: row {}, block at {}: no fp16 dmin and min codes give its mins", s.name, row,
                 b0);
          for (int64_t j = 0; j < per_block; ++j) b.mn[j] = int16_t(km[size_t(j)]);
        }
      }
      for (int64_t i = 0; i < f->block; ++i)
        b.q[i] = int16_t(float(s.codes[size_t(row * s.in + b0 + i)]) - shift);
      f->pack(b, o);
      o += info.bytes;
    }
  return out;
}

}  // namespace loaq
