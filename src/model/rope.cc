#include "model/rope.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace loaq {

std::vector<double> rope_inv_freq(const ModelConfig& c) {
  const int64_t half = c.head_dim / 2;
  std::vector<double> inv(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j)
    inv[size_t(j)] = 1.0 / std::pow(c.rope_theta, double(2 * j) / double(c.head_dim));
  if (c.rope_scaling) {
    const auto& s = *c.rope_scaling;
    const double orig = double(s.original_max_position_embeddings);
    const double low_wavelen = orig / s.low_freq_factor;
    const double high_wavelen = orig / s.high_freq_factor;
    for (auto& f : inv) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f = f / s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (orig / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1.0 - smooth) * f / s.factor + smooth * f;
      }
    }
  }
  return inv;
}

RopeTable make_rope_table(const ModelConfig& c, int64_t n_pos) {
  RopeTable t;
  t.n_pos = n_pos;
  t.half = c.head_dim / 2;
  const auto inv = rope_inv_freq(c);
  t.cos.resize(size_t(n_pos * t.half));
  t.sin.resize(size_t(n_pos * t.half));
  for (int64_t p = 0; p < n_pos; ++p)
    for (int64_t j = 0; j < t.half; ++j) {
      const double a = double(p) * inv[size_t(j)];
      t.cos[size_t(p * t.half + j)] = float(std::cos(a));
      t.sin[size_t(p * t.half + j)] = float(std::sin(a));
    }
  return t;
}

void apply_rope(const RopeTable& t, int64_t pos, float* x, int64_t n_heads) {
  const int64_t half = t.half;
  const float* c = t.cos.data() + pos * half;
  const float* s = t.sin.data() + pos * half;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * 2 * half;
    for (int64_t j = 0; j < half; ++j) {
      const float a = v[j], b = v[j + half];
      v[j] = a * c[j] - b * s[j];
      v[j + half] = b * c[j] + a * s[j];
    }
  }
}

}  // namespace loaq
