// trace_sublayer_mse against a brute-force computation of the same statistics from whole-model
// forward passes, its outlier rule, and the invariance of both measures to the Hadamard rotation.
#include "eval/trace_mse.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "model/model.h"
#include "model/rotate.h"
#include "test_assets.h"

namespace loaq {
namespace {

TEST(TraceMse, NearestRankQuantile) {
  const std::vector<double> v{5, 1, 4, 2, 3};
  EXPECT_EQ(nearest_rank_quantile(v, 0.999), 5);  // ⌈4.995⌉ = 5th smallest
  EXPECT_EQ(nearest_rank_quantile(v, 0.5), 3);    // ⌈2.5⌉ = 3rd
  EXPECT_EQ(nearest_rank_quantile(v, 0.2), 1);    // ⌈1.0⌉ = 1st
  EXPECT_EQ(nearest_rank_quantile(v, 1.0), 5);
  EXPECT_THROW(nearest_rank_quantile(v, 0.0), Error);
  EXPECT_THROW(nearest_rank_quantile({}, 0.5), Error);
}

std::vector<int32_t> token_stream(int64_t n, int64_t vocab) {
  std::mt19937 g(3);
  std::uniform_int_distribution<int32_t> d(1, int32_t(vocab - 1));
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& x : ids) x = d(g);
  return ids;
}

// The model with noise added to one decoder layer's down_proj: its error starts at that layer's
// MLP.
Model perturbed(const Model& m, int64_t layer, float scale) {
  Model p = m;
  std::mt19937 g(9);
  std::normal_distribution<float> d(0.0f, scale);
  for (auto& x : p.weights.layers[size_t(layer)].down.w.data) x += d(g);
  return p;
}

// Brute force: every token through all layers of both models, then the mean squared difference of
// the last hidden states, raw and after x / √(mean(x²) + ε), over every token, and raw without the
// token of the largest full-precision norm.
struct BruteForce {
  double raw = 0, norm = 0, raw_without_max = 0;
};
BruteForce last_layer_mse(const Model& a, const Model& b, const std::vector<int32_t>& ids,
                          int64_t seqlen) {
  const BatchShape s{int64_t(ids.size()) / seqlen, seqlen};
  Tensor ha = embed(a, ids), hb = embed(b, ids);
  forward_layers(a, s, ha);
  forward_layers(b, s, hb);
  const int64_t n = ha.cols();
  const double eps = a.config.rms_norm_eps;
  double raw = 0, norm = 0, max_norm = -1, raw_max = 0;
  for (int64_t t = 0; t < ha.rows(); ++t) {
    double sa = 0, sb = 0, raw_t = 0;
    for (int64_t i = 0; i < n; ++i) {
      sa += double(ha.row(t)[i]) * ha.row(t)[i];
      sb += double(hb.row(t)[i]) * hb.row(t)[i];
    }
    const double ra = 1 / std::sqrt(sa / double(n) + eps), rb = 1 / std::sqrt(sb / double(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      const double x = ha.row(t)[i], y = hb.row(t)[i];
      raw_t += (y - x) * (y - x);
      norm += (y * rb - x * ra) * (y * rb - x * ra);
    }
    raw += raw_t;
    if (sa > max_norm) max_norm = sa, raw_max = raw_t;
  }
  const double count = double(ha.rows()) * double(n);
  return {raw / count, norm / count, (raw - raw_max) / (count - double(n))};
}

TEST(TraceMse, MatchesBruteForceAndStartsAtThePerturbedLayer) {
  LOAQ_REQUIRE_ASSET(dir, "models/stories260K");
  const Model m = load_model(dir);
  const Model q = perturbed(m, 2, 0.02f);
  const int64_t seqlen = 64;
  const auto ids = token_stream(3 * seqlen + 10, m.config.vocab_size);  // 3 windows, a tail
  TraceOptions o;
  o.seqlen = seqlen;
  o.windows = 0;
  o.batch_tokens = 2 * seqlen;  // two batches: the per-token order across batches matters
  o.progress = false;
  o.outlier_quantile = 0.99;  // ⌈0.99 · 192⌉ = 191st smallest norm: the largest is above it
  const auto rows = trace_sublayer_mse(ModelSource(m), ModelSource(q), ids, o);
  ASSERT_EQ(rows.size(), size_t(2 * m.config.num_layers));
  for (const auto& r : rows) {
    EXPECT_EQ(r.tokens, 3 * seqlen);
    EXPECT_EQ(r.outliers, 1);
  }
  // Layers before the perturbation, and its attention, are exact; its MLP is not.
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(rows[i].mse_all, 0) << i;
    EXPECT_EQ(rows[i].mse_norm_all, 0) << i;
  }
  EXPECT_GT(rows[5].mse_all, 0);
  const BruteForce b =
      last_layer_mse(m, q, std::vector<int32_t>(ids.begin(), ids.begin() + 3 * seqlen), seqlen);
  EXPECT_NEAR(rows.back().mse_all, b.raw, 1e-9 * b.raw);
  EXPECT_NEAR(rows.back().mse_norm_all, b.norm, 1e-9 * b.norm);
  EXPECT_NEAR(rows.back().mse, b.raw_without_max, 1e-9 * b.raw_without_max);
  EXPECT_NE(rows.back().mse, rows.back().mse_all);
  // The quantile 1 keeps every token.
  o.outlier_quantile = 1.0;
  const auto all = trace_sublayer_mse(ModelSource(m), ModelSource(q), ids, o);
  EXPECT_EQ(all.back().outliers, 0);
  EXPECT_EQ(all.back().mse, all.back().mse_all);
}

TEST(TraceMse, RotatedQuantizedModelGivesTheSameTrace) {
  LOAQ_REQUIRE_ASSET(dir, "models/stories260K");
  const Model m = load_model(dir);
  const Model q = perturbed(m, 1, 0.02f);
  Model rq = q;
  rotate_model(rq, 5);  // the same function in a rotated basis (norms folded, head untied)
  TraceOptions o;
  o.seqlen = 64;
  o.windows = 2;
  o.progress = false;
  const auto ids = token_stream(2 * o.seqlen, m.config.vocab_size);
  const auto plain = trace_sublayer_mse(ModelSource(m), ModelSource(q), ids, o);
  const auto rotated = trace_sublayer_mse(ModelSource(m), ModelSource(rq), ids, o);
  ASSERT_EQ(plain.size(), rotated.size());
  for (size_t i = 2; i < plain.size(); ++i) {  // layer 0 is exact in both: rounding only
    EXPECT_NEAR(rotated[i].mse, plain[i].mse, 1e-3 * plain[i].mse) << i;
    EXPECT_NEAR(rotated[i].mse_norm, plain[i].mse_norm, 1e-3 * plain[i].mse_norm) << i;
    EXPECT_EQ(rotated[i].outliers, plain[i].outliers) << i;
  }
  EXPECT_LT(rotated[0].mse_all, 1e-9 * plain.back().mse_all);
  // A rotated reference against an unrotated model is refused.
  EXPECT_THROW(trace_sublayer_mse(ModelSource(rq), ModelSource(q), ids, o), Error);
}

TEST(TraceMse, ModelsOfOtherShapesAreRefused) {
  LOAQ_REQUIRE_ASSET(dir, "models/stories260K");
  const Model m = load_model(dir);
  Model other = m;
  other.config.num_layers -= 1;
  other.weights.layers.pop_back();
  TraceOptions o;
  o.seqlen = 16;
  o.progress = false;
  const auto ids = token_stream(64, m.config.vocab_size);
  EXPECT_THROW(trace_sublayer_mse(ModelSource(m), ModelSource(other), ids, o), Error);
  o.seqlen = 128;  // not one window
  EXPECT_THROW(trace_sublayer_mse(ModelSource(m), ModelSource(m), ids, o), Error);
}

}  // namespace
}  // namespace loaq
