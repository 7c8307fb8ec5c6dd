// The prefix-tree forward against the plain causal forward of each sequence alone, on a random
// model with GQA (with and without Qwen3's q/k-norm and q/k/v bias): shared prefixes, identical
// sequences, a sequence that is a prefix of another, and a segment longer than one row block.
#include "model/tree_forward.h"

#include <gtest/gtest.h>

#include <random>

#include "model/rotate.h"

namespace loaq {
namespace {

Tensor randn(std::vector<int64_t> shape, std::mt19937& g, float scale) {
  Tensor t(std::move(shape));
  std::normal_distribution<float> d(0.0f, scale);
  for (auto& x : t.data) x = d(g);
  return t;
}

Model random_model(bool qwen3) {
  Model m;
  ModelConfig& c = m.config;
  c.hidden_size = 32;
  c.intermediate_size = 40;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 50;
  c.max_position_embeddings = 512;
  c.qk_norm = qwen3;
  c.qkv_bias = qwen3;
  std::mt19937 g(qwen3 ? 11 : 5);
  m.weights.embed = randn({50, 32}, g, 1.0f);
  m.weights.final_norm = randn({32}, g, 1.0f);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    LayerWeights w;
    w.input_norm = randn({32}, g, 1.0f);
    w.post_attn_norm = randn({32}, g, 1.0f);
    w.q.w = randn({32, 32}, g, 0.3f);
    w.k.w = randn({16, 32}, g, 0.3f);
    w.v.w = randn({16, 32}, g, 0.3f);
    if (qwen3) {
      w.q.b = randn({32}, g, 0.3f);
      w.k.b = randn({16}, g, 0.3f);
      w.v.b = randn({16}, g, 0.3f);
      w.q_norm = randn({8}, g, 1.0f);
      w.k_norm = randn({8}, g, 1.0f);
    }
    w.o.w = randn({32, 32}, g, 0.3f);
    w.gate.w = randn({40, 32}, g, 0.3f);
    w.up.w = randn({40, 32}, g, 0.3f);
    w.down.w = randn({32, 40}, g, 0.3f);
    m.weights.layers.push_back(std::move(w));
  }
  return m;
}

std::vector<int32_t> random_ids(std::mt19937& g, int64_t n) {
  std::uniform_int_distribution<int32_t> d(0, 49);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& x : ids) x = d(g);
  return ids;
}

std::vector<int32_t> cat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(PrefixTree, RadixSegments) {
  PrefixTree t;
  const std::vector<std::vector<int32_t>> g1 = {
      {1, 2, 3, 4}, {1, 2, 5}, {1, 2, 3, 6, 7}, {}, {1, 2}};
  const auto rows = add_group(t, g1);
  // Segments: [1 2] root, [3] under it, [4] and [6 7] under [3], [5] under the root segment.
  EXPECT_EQ(t.rows(), 7);
  EXPECT_EQ(t.segments.size(), 5u);
  EXPECT_EQ(rows[0], (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(rows[4], (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(rows[3].empty());
  for (size_t i = 0; i < g1.size(); ++i)
    for (size_t p = 0; p < g1[i].size(); ++p) EXPECT_EQ(t.ids[size_t(rows[i][p])], g1[i][p]);
  const auto pos = t.positions();
  for (size_t p = 0; p < rows[2].size(); ++p) EXPECT_EQ(pos[size_t(rows[2][p])], int64_t(p));
  // A second group never shares rows with the first, even with the same tokens.
  const std::vector<std::vector<int32_t>> g2 = {{1, 2, 3}};
  const auto rows2 = add_group(t, g2);
  EXPECT_EQ(rows2[0], (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(t.segments.back().parent, -1);
}

TEST(TreeForward, EqualsPlainForwardOfEachSequence) {
  for (const bool qwen3 : {false, true}) {
    const Model m = random_model(qwen3);
    std::mt19937 g(3);
    const auto ctx = random_ids(g, 9), long_ctx = random_ids(g, 270);
    // Group 1: a context with three continuations, one repeated, one a prefix of another.
    const auto a = random_ids(g, 4), b = random_ids(g, 6);
    const std::vector<std::vector<int32_t>> g1 = {cat(ctx, a), cat(ctx, b), cat(ctx, a),
                                                  cat(ctx, {a[0], a[1]})};
    // Group 2: a context longer than a row block, two continuations of different lengths.
    const std::vector<std::vector<int32_t>> g2 = {cat(long_ctx, random_ids(g, 3)),
                                                  cat(long_ctx, random_ids(g, 20))};
    PrefixTree t;
    std::vector<std::vector<int32_t>> seqs;
    std::vector<std::vector<int64_t>> rows;
    for (const auto* grp : {&g1, &g2}) {
      auto r = add_group(t, *grp);
      seqs.insert(seqs.end(), grp->begin(), grp->end());
      rows.insert(rows.end(), r.begin(), r.end());
    }
    EXPECT_EQ(t.rows(), 9 + 4 + 6 + 270 + 3 + 20);
    const Tensor h = tree_forward_hidden(m, t);
    for (size_t i = 0; i < seqs.size(); ++i) {
      const auto n = int64_t(seqs[i].size());
      Tensor ref = embed(m, seqs[i]);
      forward_layers(m, {1, n}, ref);
      double worst = 0;
      for (int64_t p = 0; p < n; ++p)
        for (int64_t j = 0; j < 32; ++j)
          worst = std::max(worst, double(std::abs(h.row(rows[i][size_t(p)])[j] - ref.row(p)[j])));
      // fp32 rounding of the same sums in other GEMM shapes: up to 2.6e-5 measured with
      // OpenBLAS's Zen kernels (below 2e-5 with its AVX-512 ones).
      EXPECT_LT(worst, 6e-5) << "sequence " << i << (qwen3 ? " (qwen3)" : "");
    }
  }
}

// The largest |a − b| over the rows `rows` of a and the rows 0.. of b.
double worst_diff(const Tensor& a, const std::vector<int64_t>& rows, const Tensor& b) {
  double worst = 0;
  for (size_t p = 0; p < rows.size(); ++p)
    for (int64_t j = 0; j < b.cols(); ++j)
      worst = std::max(worst, double(std::abs(a.row(rows[p])[j] - b.row(int64_t(p))[j])));
  return worst;
}

// The tree path runs the same layer code as the plain forward: a rotated model (online rotations
// at o_proj and down_proj) and a W4A4 model (activation quantizer on every linear input) give the
// plain forward's logits on every sequence of a tree.
TEST(TreeForward, RotatedAndW4A4ModelsEqualPlainForward) {
  const Model base = random_model(false);
  Model rotated = base;
  rotate_model(rotated, 3);
  Model w4a4 = base;
  for (auto& l : w4a4.weights.layers) l.act = ActQuant{4, 1.0f};
  std::mt19937 g(9);
  const auto ctx = random_ids(g, 12);
  const std::vector<std::vector<int32_t>> seqs = {cat(ctx, random_ids(g, 5)),
                                                  cat(ctx, random_ids(g, 7))};
  PrefixTree t;
  const auto rows = add_group(t, seqs);
  for (size_t i = 0; i < seqs.size(); ++i) {
    const auto n = int64_t(seqs[i].size());
    const Tensor plain = forward(base, seqs[i], {1, n});
    const Tensor rot = final_logits(rotated, tree_forward_hidden(rotated, t));
    EXPECT_LT(worst_diff(rot, rows[i], plain), 1e-4) << "rotated, sequence " << i;
    const Tensor q_plain = forward(w4a4, seqs[i], {1, n});
    const Tensor q_tree = final_logits(w4a4, tree_forward_hidden(w4a4, t));
    // Rounding-order differences may move an activation across a code boundary now and then;
    // skipping the quantizer in either path moves every logit by far more.
    const double d_tree = worst_diff(q_tree, rows[i], q_plain);
    std::vector<int64_t> seq_rows(rows[i].size());
    for (size_t p = 0; p < seq_rows.size(); ++p) seq_rows[p] = int64_t(p);
    const double d_quant = worst_diff(q_plain, seq_rows, plain);
    EXPECT_GT(d_quant, 0.05) << "the W4A4 quantizer changes the logits";
    EXPECT_LT(d_tree, 1e-3) << "W4A4, sequence " << i;
  }
}

}  // namespace
}  // namespace loaq
