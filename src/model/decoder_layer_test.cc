// The decoder layer as a quantizer drives it: the taps see exactly the inputs the linears consume,
// and a replaced weight takes effect.
#include "model/decoder_layer.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/blas.h"
#include "model/ops.h"

namespace loaq {
namespace {

Tensor randn(std::vector<int64_t> shape, std::mt19937& g, float scale = 0.2f) {
  Tensor t(std::move(shape));
  std::normal_distribution<float> d(0.0f, scale);
  for (auto& x : t.data) x = d(g);
  return t;
}

struct Fixture {
  ModelConfig c;
  LayerWeights w;
  Fixture() {
    c.hidden_size = 32;
    c.intermediate_size = 48;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 8;
    c.rms_norm_eps = 1e-6;
    std::mt19937 g(7);
    w.input_norm = randn({32}, g, 1.0f);
    w.post_attn_norm = randn({32}, g, 1.0f);
    w.q.w = randn({32, 32}, g);
    w.k.w = randn({16, 32}, g);
    w.v.w = randn({16, 32}, g);
    w.o.w = randn({32, 32}, g);
    w.gate.w = randn({48, 32}, g);
    w.up.w = randn({48, 32}, g);
    w.down.w = randn({32, 48}, g);
  }
};

TEST(DecoderLayer, TapsSeeTheLinearInputs) {
  Fixture f;
  std::mt19937 g(8);
  const BatchShape s{2, 10};
  Tensor h = randn({20, 32}, g, 1.0f);
  const Tensor h0 = h;
  std::map<LinearGroup, Tensor> seen;
  LayerTaps taps;
  taps.on_input = [&](LinearGroup grp, const Tensor& x) { seen[grp] = x; };
  const RopeTable rope = make_rope_table(f.c, s.seq);

  attention_block(f.c, f.w, rope, s, h, &taps);
  ASSERT_EQ(seen.size(), 2u);
  // q/k/v read input_layernorm(h0); the residual update is o_proj applied to the tapped O input.
  const Tensor xn = rms_norm(h0, f.w.input_norm, f.c.rms_norm_eps);
  EXPECT_EQ(seen[LinearGroup::kQKV].data, xn.data);
  const Tensor o = apply_linear(f.w.o, seen[LinearGroup::kO]);
  for (int64_t i = 0; i < h.numel(); ++i)
    EXPECT_NEAR(h.data[size_t(i)], h0.data[size_t(i)] + o.data[size_t(i)], 1e-5);

  const Tensor h1 = h;
  mlp_block(f.c, f.w, s, h, &taps);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[LinearGroup::kGateUp].data, rms_norm(h1, f.w.post_attn_norm, f.c.rms_norm_eps).data);
  EXPECT_EQ(seen[LinearGroup::kDown].cols(), 48);
  const Tensor d = apply_linear(f.w.down, seen[LinearGroup::kDown]);
  for (int64_t i = 0; i < h.numel(); ++i)
    EXPECT_NEAR(h.data[size_t(i)], h1.data[size_t(i)] + d.data[size_t(i)], 1e-5);
}

TEST(DecoderLayer, ReplacedWeightTakesEffect) {
  Fixture f;
  std::mt19937 g(9);
  const BatchShape s{1, 6};
  const RopeTable rope = make_rope_table(f.c, s.seq);
  const Tensor h0 = randn({6, 32}, g, 1.0f);
  Tensor a = h0;
  decoder_layer(f.c, f.w, rope, s, a);
  EXPECT_NE(a.data, h0.data);
  // Zero o_proj and down_proj: both sub-layers add nothing, the layer is the identity.
  f.w.linear(LinearName::kO).w = Tensor({32, 32});
  f.w.linear(LinearName::kDown).w = Tensor({32, 48});
  Tensor b = h0;
  decoder_layer(f.c, f.w, rope, s, b);
  EXPECT_EQ(b.data, h0.data);
}

}  // namespace
}  // namespace loaq
