// The quantized low-rank branch in the forward pass against a forward of one linear computed by
// hand: scalar loops over the stored codes, with the per-token asymmetric quantizer written out
// again here from its definition (QuaRot's ActQuantizer), and a 2×2 example worked on paper.
#include "model/lowrank_apply.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "model/decoder_layer.h"

namespace loaq {
namespace {

// Per token: xmin = min(min x, 0), xmax = max(max x, 0), scale = (xmax − xmin)/(2^b − 1),
// zero = round(−xmin/scale), x̂ = scale·(clamp(round(x/scale) + zero, 0, 2^b − 1) − zero).
std::vector<double> act_quant_by_hand(const std::vector<double>& x, int bits) {
  if (bits >= 16) return x;
  double mn = 0, mx = 0;
  for (double v : x) mn = std::min(mn, v), mx = std::max(mx, v);
  if (mn == 0 && mx == 0) mn = -1, mx = 1;
  const double maxq = std::pow(2.0, bits) - 1;
  const float scale = float(mx - mn) / float(maxq);
  const float zero = std::nearbyint(float(-mn) / scale);
  std::vector<double> r;
  for (double v : x) {
    const float c = std::clamp(std::nearbyint(float(v) / scale) + zero, 0.0f, float(maxq));
    r.push_back(double(scale * (c - zero)));
  }
  return r;
}

RowQuantMatrix factor(int64_t rows, int64_t cols, int bits, std::mt19937& g) {
  RowQuantMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.bits = bits;
  std::uniform_real_distribution<float> u(0.01f, 0.2f);
  if (bits == 16) {
    std::normal_distribution<float> n;
    for (int64_t i = 0; i < rows * cols; ++i) m.values.push_back(n(g));
    return m;
  }
  std::uniform_int_distribution<int> c(-m.qmax(), m.qmax());
  for (int64_t i = 0; i < rows * cols; ++i) m.codes.push_back(int8_t(c(g)));
  for (int64_t i = 0; i < rows; ++i) m.scale.push_back(u(g));
  return m;
}

double w_of(const RowQuantMatrix& m, int64_t r, int64_t c) {
  const size_t i = size_t(r * m.cols + c);
  return m.quantized() ? double(m.scale[size_t(r)] * float(m.codes[i])) : double(m.values[i]);
}

TEST(LowRankApply, EqualsAHandComputedForwardOfOneLinear) {
  std::mt19937 g(1);
  const int64_t T = 5, in = 24, out = 18, r = 4;
  std::normal_distribution<float> n;
  for (auto [wb, ab] : {std::pair{8, 8}, {4, 8}, {6, 6}, {3, 4}, {16, 16}, {8, 16}}) {
    LowRankBranch b;
    b.l1 = factor(r, in, wb, g);
    b.l2 = factor(out, r, wb, g);
    b.act_bits = ab;
    std::vector<float> x(size_t(T * in)), y(size_t(T * out)), y0;
    for (auto& v : x) v = n(g) * 2.0f + 0.3f;
    for (auto& v : y) v = n(g);
    y0 = y;
    apply_lowrank(make_lowrank_linear(b), x.data(), T, y.data());
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> xt(x.begin() + t * in, x.begin() + (t + 1) * in);
      xt = act_quant_by_hand(xt, ab);
      std::vector<double> z(size_t(r), 0.0);
      for (int64_t j = 0; j < r; ++j)
        for (int64_t c = 0; c < in; ++c) z[size_t(j)] += w_of(b.l1, j, c) * xt[size_t(c)];
      z = act_quant_by_hand(z, ab);
      for (int64_t o = 0; o < out; ++o) {
        double v = y0[size_t(t * out + o)];
        for (int64_t j = 0; j < r; ++j) v += w_of(b.l2, o, j) * z[size_t(j)];
        // Tolerance: fp32 accumulation; a requantized L1·x may round differently when its fp32
        // and fp64 values straddle a rounding boundary, which these inputs do not hit.
        EXPECT_NEAR(y[size_t(t * out + o)], v, 2e-4 * (1 + std::abs(v)))
            << "w" << wb << "a" << ab << " t=" << t << " o=" << o;
      }
    }
  }
}

// The decoder's one linear path (model/decoder_layer.h linear_output): with W4A4 on the main layer
// and a W8A8 branch, y = W·Qa4(x) + b + L2·Qa8(L1·Qa8(x)), the branch reading x before the main
// layer's quantizer; each part computed by hand.
TEST(LowRankApply, DecoderLinearRunsTheBranchBesideTheMainLayer) {
  std::mt19937 g(7);
  const int64_t T = 3, in = 16, out = 10, r = 3;
  std::normal_distribution<float> n;
  LayerWeights w;
  w.act = ActQuant{4, 1.0f};
  w.down.w = Tensor({out, in});
  w.down.b = Tensor({out});
  for (auto& v : w.down.w.data) v = n(g) * 0.2f;
  for (auto& v : w.down.b.data) v = n(g);
  LowRankBranch b;
  b.l1 = factor(r, in, 8, g);
  b.l2 = factor(out, r, 8, g);
  b.act_bits = 8;
  w.down.lowrank = std::make_shared<const LowRankLinear>(make_lowrank_linear(b));
  Tensor x({T, in});
  for (auto& v : x.data) v = n(g) * 1.5f + 0.2f;
  const Tensor y = apply_linear(ModelConfig{}, w, LinearName::kDown, x);
  for (int64_t t = 0; t < T; ++t) {
    const std::vector<double> xt(x.data.begin() + t * in, x.data.begin() + (t + 1) * in);
    const std::vector<double> x4 = act_quant_by_hand(xt, 4), x8 = act_quant_by_hand(xt, 8);
    std::vector<double> z(size_t(r), 0.0);
    for (int64_t j = 0; j < r; ++j)
      for (int64_t c = 0; c < in; ++c) z[size_t(j)] += w_of(b.l1, j, c) * x8[size_t(c)];
    z = act_quant_by_hand(z, 8);
    for (int64_t o = 0; o < out; ++o) {
      double v = w.down.b.data[size_t(o)];
      for (int64_t c = 0; c < in; ++c)
        v += double(w.down.w.data[size_t(o * in + c)]) * x4[size_t(c)];
      for (int64_t j = 0; j < r; ++j) v += w_of(b.l2, o, j) * z[size_t(j)];
      EXPECT_NEAR(y.data[size_t(t * out + o)], v, 2e-4 * (1 + std::abs(v)))
          << "t=" << t << " o=" << o;
    }
  }
  // Without the branch, the main layer alone.
  w.down.lowrank.reset();
  const Tensor y0 = apply_linear(ModelConfig{}, w, LinearName::kDown, x);
  double diff = 0;
  for (size_t i = 0; i < y.data.size(); ++i) diff += std::abs(double(y.data[i]) - y0.data[i]);
  EXPECT_GT(diff, 1e-3);
}

// Worked by hand: 8-bit codes, L1 = 0.01·[127, −64] = [1.27, −0.64], L2 = 0.02·[100, −50]ᵀ.
TEST(LowRankApply, WorkedExample) {
  LowRankBranch b;
  b.l1 = {1, 2, 8, {std::int8_t(127), std::int8_t(-64)}, {0.01f}, {}};  // L1 = [1.27, −0.64]
  b.l2 = {2, 1, 8, {std::int8_t(100), std::int8_t(-50)}, {0.02f, 0.02f}, {}};  // L2 = [2, −1]ᵀ
  b.act_bits = 16;
  const float x[2] = {1.0f, 2.0f};
  float y[2] = {0.5f, 0.0f};
  apply_lowrank(make_lowrank_linear(b), x, 1, y);
  // L1 x = 1.27 − 1.28 = −0.01; y += [2, −1]·(−0.01) = [−0.02, 0.01].
  EXPECT_NEAR(y[0], 0.48f, 1e-6f);
  EXPECT_NEAR(y[1], 0.01f, 1e-6f);
  // 8-bit activations on x = [0.5, 2]: xmin = 0, xmax = 2, scale = 2/255, zero 0, codes
  // round(63.75) = 64 and 255, so x̂ = [128/255, 2]; L1 x̂ = 1.27·128/255 − 1.28 = z; a one-element
  // token requantizes exactly (xmax = 0, code 0 ↔ z); y = [2z, −z].
  b.act_bits = 8;
  const float xb[2] = {0.5f, 2.0f};
  float y8[2] = {0.0f, 0.0f};
  apply_lowrank(make_lowrank_linear(b), xb, 1, y8);
  const double z = 1.27 * 128.0 / 255.0 - 1.28;
  EXPECT_NEAR(y8[0], 2.0 * z, 1e-5);
  EXPECT_NEAR(y8[1], -z, 1e-5);
}

TEST(LowRankApply, RefusesAnInvalidBranch) {
  LowRankBranch b;
  b.l1 = {1, 2, 4, {std::int8_t(8), std::int8_t(0)}, {0.1f}, {}};  // 8 > qmax 7
  b.l2 = {1, 1, 4, {std::int8_t(1)}, {0.1f}, {}};
  EXPECT_THROW(make_lowrank_linear(b), Error);
  b.l1.codes[0] = 7;
  EXPECT_NO_THROW(make_lowrank_linear(b));
  b.l2.cols = 2;
  EXPECT_THROW(make_lowrank_linear(b), Error);
}

}  // namespace
}  // namespace loaq
