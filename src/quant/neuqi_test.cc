// NeUQI against brute force and against min-max:
//  - the exact zero point (real and integer) beats every point of a fine zero grid on random small
//    rows (the objective is evaluated from its definition, neuqi_objective);
//  - on real layers (stories260K and llama-mini-7m, q_proj of layer 0 with H from C4 calibration
//    inputs) the diag(H)-weighted error of the NeUQI grids is ≤ min-max's in every group of every
//    row.
#include "quant/neuqi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "model/model.h"
#include "model/ops.h"
#include "quant/grid.h"
#include "quant/solver.h"
#include "test_assets.h"
#include "text/calibration.h"

namespace loaq {
namespace {

TEST(NeuqiZero, ExactRealAndIntegerZerosBeatAFineGrid) {
  std::mt19937 g(5);
  std::normal_distribution<double> nd;
  std::uniform_real_distribution<double> ud(0.0, 1.0);
  for (int c = 0; c < 60; ++c) {
    const int bits = 2 + c % 2, qmax = (1 << bits) - 1;
    const int64_t n = 1 + c % 9;
    std::vector<double> x(static_cast<size_t>(n)), h(static_cast<size_t>(n));
    const double spread = 0.5 + 3.0 * ud(g), shift = 4.0 * nd(g);
    for (int64_t i = 0; i < n; ++i) {
      x[size_t(i)] = shift + spread * nd(g);
      h[size_t(i)] = c % 5 == 0 ? 1.0 : 0.05 + ud(g);  // some rows with equal weights
    }
    if (c % 7 == 3) x[1 % size_t(n)] = x[0];  // repeated values
    const ZeroFit real = neuqi_best_zero(x.data(), h.data(), n, qmax);
    const ZeroFit integer = neuqi_best_int_zero(x.data(), h.data(), n, qmax);
    ASSERT_NEAR(real.objective, neuqi_objective(x.data(), h.data(), n, qmax, real.zero), 1e-12);
    ASSERT_NEAR(integer.objective, neuqi_objective(x.data(), h.data(), n, qmax, integer.zero),
                1e-12);
    ASSERT_EQ(integer.zero, std::round(integer.zero));
    ASSERT_GE(integer.zero, 0.0);
    ASSERT_LE(integer.zero, qmax);

    // Brute force: every zero of a grid of step 1e-3 covering all breakpoints with a margin.
    const auto [mn, mx] = std::minmax_element(x.begin(), x.end());
    double brute = 1e300;
    for (double z = -*mx - 2.0; z <= qmax - *mn + 2.0; z += 1e-3)
      brute = std::min(brute, neuqi_objective(x.data(), h.data(), n, qmax, z));
    double brute_int = 1e300;
    for (int z = 0; z <= qmax; ++z)
      brute_int = std::min(brute_int, neuqi_objective(x.data(), h.data(), n, qmax, z));
    EXPECT_LE(real.objective, brute + 1e-12) << "case " << c;
    EXPECT_GE(real.objective, brute - 0.05 * brute - 1e-6) << "case " << c;  // the grid comes close
    EXPECT_NEAR(integer.objective, brute_int, 1e-12 * (1 + brute_int)) << "case " << c;
    EXPECT_LE(real.objective, integer.objective + 1e-12) << "case " << c;
  }
}

// A row where the constant part of the weights decides: all x equal, so z = round-off of x is
// exact.
TEST(NeuqiZero, ConstantRowIsRepresentedExactly) {
  const std::vector<double> x(5, 1.3), h(5, 0.2);
  const ZeroFit r = neuqi_best_zero(x.data(), h.data(), 5, 3);
  EXPECT_NEAR(r.objective, 0.0, 1e-15);
  // Integer zero: 1.3 + z is never an integer: 0.09 at best.
  EXPECT_NEAR(neuqi_best_int_zero(x.data(), h.data(), 5, 3).objective, 0.09, 1e-12);
}

// Σ_c h_c (Q(w_c) − w_c)² over columns [c0, c1) of row r, as the solvers quantize.
double weighted_error(const GridConfig& grid, const Tensor& w, int64_t r, int64_t c0, int64_t c1,
                      float s, float z, const std::vector<double>& h) {
  double e = 0;
  for (int64_t c = c0; c < c1; ++c) {
    const float v = w.data[size_t(r * w.cols() + c)];
    const double d = double(dequantize(quantize_code(grid, v, s, z), s, z)) - v;
    e += h[size_t(c)] * d * d;
  }
  return e;
}

void expect_neuqi_beats_minmax(const std::string& model_dir, int64_t rows) {
  const auto tok = load_tokenizer(model_dir);
  CalibConfig cc;
  cc.nsamples = 4;
  cc.seqlen = 64;
  const CalibSet calib = sample_calibration(*tok, cc, *test::assets_dir() + "/data");
  const Model m = load_model(model_dir);
  const LayerWeights& l0 = m.weights.layers[0];
  const Tensor x =
      rms_norm(embed(m, calib.ids), l0.input_norm, m.config.rms_norm_eps);  // q_proj's inputs
  const int64_t N = x.cols();
  MatD H(N, N);
  add_gram(H, x.ptr(), x.rows(), N);
  const std::vector<double> h = neuqi_weights(H, 0.01);
  Tensor w({rows, N});
  std::copy_n(l0.linear(LinearName::kQ).w.data.begin(), rows * N, w.data.begin());

  for (int64_t group : {int64_t(-1), int64_t(32)}) {
    GridConfig mm;
    mm.bits = 2;
    mm.group = group;
    const int64_t gs = group < 0 ? N : group;
    int64_t better = 0, total = 0;
    for (GridFit fit : {GridFit::kNeuqi, GridFit::kNeuqiInt}) {
      GridConfig nq = mm;
      nq.fit = fit;
      for (int64_t c0 = 0; c0 < N; c0 += gs) {
        const int64_t c1 = std::min(N, c0 + gs);
        std::vector<float> s0(static_cast<size_t>(rows)), z0(static_cast<size_t>(rows));
        std::vector<float> s1(static_cast<size_t>(rows)), z1(static_cast<size_t>(rows));
        fit_grid(mm, w.ptr() + c0, rows, c1 - c0, N, s0.data(), z0.data());
        fit_grid(nq, w.ptr() + c0, rows, c1 - c0, N, s1.data(), z1.data(), h.data() + c0);
        for (int64_t r = 0; r < rows; ++r) {
          const double e0 = weighted_error(mm, w, r, c0, c1, s0[size_t(r)], z0[size_t(r)], h);
          const double e1 = weighted_error(nq, w, r, c0, c1, s1[size_t(r)], z1[size_t(r)], h);
          ASSERT_LE(e1, e0 * (1 + 1e-6)) << grid_fit_name(fit) << " row " << r << " columns " << c0;
          better += e1 < e0 * (1 - 1e-3);
          ++total;
        }
      }
    }
    // NeUQI is not min-max in disguise: it is clearly better in most groups at 2 bits.
    EXPECT_GT(better, total / 2) << "group " << group;
  }
}

TEST(NeuqiGrid, BeatsMinMaxOnEveryGroupOfARealLayer) {
  LOAQ_REQUIRE_ASSET(small, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  expect_neuqi_beats_minmax(small, 64);
  LOAQ_REQUIRE_ASSET(mini, "models/llama-mini-7m");
  expect_neuqi_beats_minmax(mini, 48);  // 48 of its 256 rows keep the test fast
}

TEST(NeuqiGrid, NeedsTheHessianDiagonal) {
  GridConfig g;
  g.fit = GridFit::kNeuqi;
  const std::vector<float> w = {0.1f, -0.2f, 0.3f};
  float s = 0, z = 0;
  EXPECT_THROW(fit_grid(g, w.data(), 1, 3, 3, &s, &z), Error);
  g.sym = true;
  EXPECT_THROW(validate(g), Error);
}

}  // namespace
}  // namespace loaq
