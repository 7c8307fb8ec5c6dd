// Kernels of the decoder against brute force in double on small random problems.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "model/attention.h"
#include "model/ops.h"
#include "model/rope.h"

namespace loaq {
namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

TEST(Ops, RmsNormMatchesDefinition) {
  const int64_t rows = 5, n = 37;
  const auto x = randn(size_t(rows * n), 1), w = randn(size_t(n), 2);
  std::vector<float> y(x.size());
  rms_norm(x.data(), rows, n, w.data(), 1e-5, y.data());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += double(x[size_t(r * n + i)]) * x[size_t(r * n + i)];
    const double inv = 1.0 / std::sqrt(ss / double(n) + 1e-5);
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(y[size_t(r * n + i)], w[size_t(i)] * x[size_t(r * n + i)] * inv, 1e-5);
  }
}

TEST(Ops, SiluMul) {
  std::vector<float> g = {-3.0f, -0.5f, 0.0f, 0.7f, 4.0f}, u = {1.0f, 2.0f, 3.0f, -1.0f, 0.5f};
  const auto g0 = g;
  silu_mul(g.data(), u.data(), 5);
  for (size_t i = 0; i < 5; ++i)
    EXPECT_NEAR(g[i], g0[i] / (1.0 + std::exp(-double(g0[i]))) * u[i], 1e-6);
}

TEST(Ops, LinearWithBias) {
  Linear l;
  l.w = Tensor({2, 3});
  l.w.data = {1, 2, 3, 4, 5, 6};
  l.b = Tensor({2});
  l.b.data = {0.5f, -1.0f};
  Tensor x({2, 3});
  x.data = {1, 0, -1, 2, 1, 0};
  const Tensor y = apply_linear(l, x);
  EXPECT_EQ(y.data, (std::vector<float>{1 - 3 + 0.5f, 4 - 6 - 1.0f, 2 + 2 + 0.5f, 8 + 5 - 1.0f}));
}

// Rotate-half RoPE equals multiplying each pair (x_j, x_{j+half}) as a complex number by
// e^{i·pos·inv_freq_j}.
TEST(Rope, IsComplexRotation) {
  ModelConfig c;
  c.head_dim = 16;
  c.rope_theta = 10000.0;
  const auto t = make_rope_table(c, 50);
  const auto inv = rope_inv_freq(c);
  auto x = randn(32, 3);  // two heads
  const auto x0 = x;
  apply_rope(t, 41, x.data(), 2);
  for (int h = 0; h < 2; ++h)
    for (int j = 0; j < 8; ++j) {
      const double a = 41.0 * inv[size_t(j)];
      const double re = x0[size_t(h * 16 + j)], im = x0[size_t(h * 16 + j + 8)];
      EXPECT_NEAR(x[size_t(h * 16 + j)], re * std::cos(a) - im * std::sin(a), 1e-5);
      EXPECT_NEAR(x[size_t(h * 16 + j + 8)], im * std::cos(a) + re * std::sin(a), 1e-5);
    }
  EXPECT_DOUBLE_EQ(inv[1], std::pow(10000.0, -2.0 / 16.0));
}

// llama3 scaling: wavelengths shorter than orig/high_freq_factor keep their frequency, longer than
// orig/low_freq_factor are divided by factor, the band between is interpolated (monotone).
TEST(Rope, Llama3Scaling) {
  ModelConfig c;
  c.head_dim = 64;
  c.rope_theta = 500000.0;
  const auto base = rope_inv_freq(c);
  c.rope_scaling = Llama3RopeScaling{8.0, 1.0, 4.0, 8192};
  const auto scaled = rope_inv_freq(c);
  int kept = 0, divided = 0, mid = 0;
  for (size_t j = 0; j < base.size(); ++j) {
    const double wl = 2 * std::numbers::pi / base[j];
    if (wl < 8192 / 4.0) {
      EXPECT_DOUBLE_EQ(scaled[j], base[j]);
      ++kept;
    } else if (wl > 8192 / 1.0) {
      EXPECT_DOUBLE_EQ(scaled[j], base[j] / 8.0);
      ++divided;
    } else {
      EXPECT_LT(scaled[j], base[j]);
      EXPECT_GT(scaled[j], base[j] / 8.0);
      ++mid;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(mid, 0);
}

// Causal GQA attention against a direct double-precision evaluation; T = 300 crosses the 256-row
// block boundary, batch 2 and 4 query heads on 2 KV heads exercise the indexing.
TEST(Attention, MatchesBruteForce) {
  const AttentionShape s{2, 300, 4, 2, 8};
  const int64_t qs = s.n_heads * s.head_dim, ks = s.n_kv_heads * s.head_dim, rows = s.batch * s.seq;
  const auto q = randn(size_t(rows * qs), 4), k = randn(size_t(rows * ks), 5), v = randn(size_t(rows * ks), 6);
  std::vector<float> out(size_t(rows * qs));
  causal_attention(s, q.data(), k.data(), v.data(), out.data());
  double max_err = 0;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.n_heads; ++h) {
      const int64_t g = h / (s.n_heads / s.n_kv_heads);
      for (int64_t i = 0; i < s.seq; ++i) {
        std::vector<double> p(size_t(i + 1));
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j <= i; ++j) {
          double d = 0;
          for (int64_t e = 0; e < s.head_dim; ++e)
            d += double(q[size_t((b * s.seq + i) * qs + h * s.head_dim + e)]) *
                 k[size_t((b * s.seq + j) * ks + g * s.head_dim + e)];
          p[size_t(j)] = d / std::sqrt(double(s.head_dim));
          mx = std::max(mx, p[size_t(j)]);
        }
        for (auto& x : p) sum += (x = std::exp(x - mx));
        for (int64_t e = 0; e < s.head_dim; ++e) {
          double o = 0;
          for (int64_t j = 0; j <= i; ++j) o += p[size_t(j)] / sum * v[size_t((b * s.seq + j) * ks + g * s.head_dim + e)];
          max_err = std::max(max_err, std::abs(o - out[size_t((b * s.seq + i) * qs + h * s.head_dim + e)]));
        }
      }
    }
  EXPECT_LT(max_err, 2e-5);
}

}  // namespace
}  // namespace loaq
