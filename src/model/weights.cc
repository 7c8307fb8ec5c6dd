#include "model/weights.h"

#include <fmt/format.h>

#include "core/error.h"
#include "io/lowrank_state.h"
#include "model/lowrank_apply.h"

namespace loaq {

std::string_view linear_path(LinearName n) {
  switch (n) {
    case LinearName::kQ:
      return "self_attn.q_proj";
    case LinearName::kK:
      return "self_attn.k_proj";
    case LinearName::kV:
      return "self_attn.v_proj";
    case LinearName::kO:
      return "self_attn.o_proj";
    case LinearName::kGate:
      return "mlp.gate_proj";
    case LinearName::kUp:
      return "mlp.up_proj";
    case LinearName::kDown:
      return "mlp.down_proj";
  }
  return "?";
}

Linear& LayerWeights::linear(LinearName n) {
  switch (n) {
    case LinearName::kQ:
      return q;
    case LinearName::kK:
      return k;
    case LinearName::kV:
      return v;
    case LinearName::kO:
      return o;
    case LinearName::kGate:
      return gate;
    case LinearName::kUp:
      return up;
    case LinearName::kDown:
      return down;
  }
  return q;
}

const Linear& LayerWeights::linear(LinearName n) const {
  return const_cast<LayerWeights*>(this)->linear(n);
}

LayerWeights load_layer(const Checkpoint& ckpt, int64_t i) {
  const auto& c = ckpt.config();
  if (i < 0 || i >= c.num_layers) fail("layer index {} out of range [0, {})", i, c.num_layers);
  const std::string p = fmt::format("model.layers.{}.", i);
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  LayerWeights w;
  w.input_norm = ckpt.load_f32(p + "input_layernorm.weight", {H});
  w.post_attn_norm = ckpt.load_f32(p + "post_attention_layernorm.weight", {H});
  auto lin = [&](LinearName n, int64_t out, int64_t in, bool bias) {
    Linear l;
    const std::string base = p + std::string(linear_path(n));
    l.w = ckpt.load_f32(base + ".weight", {out, in});
    if (bias) l.b = ckpt.load_f32(base + ".bias", {out});
    if (const SafetensorsSet* s = ckpt.state_set(); s && s->find(base + ".lowrank.bits"))
      l.lowrank = std::make_shared<const LowRankLinear>(
          make_lowrank_linear(read_lowrank_branch(*s, base, out, in)));
    return l;
  };
  w.q = lin(LinearName::kQ, c.q_dim(), H, c.qkv_bias);
  w.k = lin(LinearName::kK, c.kv_dim(), H, c.qkv_bias);
  w.v = lin(LinearName::kV, c.kv_dim(), H, c.qkv_bias);
  w.o = lin(LinearName::kO, H, c.q_dim(), c.o_bias);
  w.gate = lin(LinearName::kGate, I, H, c.mlp_bias);
  w.up = lin(LinearName::kUp, I, H, c.mlp_bias);
  w.down = lin(LinearName::kDown, H, I, c.mlp_bias);
  if (c.qk_norm) {
    w.q_norm = ckpt.load_f32(p + "self_attn.q_norm.weight", {c.head_dim});
    w.k_norm = ckpt.load_f32(p + "self_attn.k_norm.weight", {c.head_dim});
  }
  for (const auto& name : ckpt.tensor_names())  // the fp32 copy is all that is needed now
    if (name.rfind(p, 0) == 0) ckpt.release(name);
  return w;
}

ModelWeights load_weights(const Checkpoint& ckpt) {
  const auto& c = ckpt.config();
  ModelWeights m;
  m.embed = ckpt.load_f32("model.embed_tokens.weight", {c.vocab_size, c.hidden_size});
  m.layers.reserve(size_t(c.num_layers));
  for (int64_t i = 0; i < c.num_layers; ++i) m.layers.push_back(load_layer(ckpt, i));
  if (c.loaq.online_down) {
    const auto rot = std::make_shared<const Rotation>(
        hadamard_transform(c.intermediate_size, c.loaq.rotate_seed));
    for (auto& l : m.layers) l.down_rotation = rot;
  }
  if (c.loaq.online_o) {
    const auto rot =
        std::make_shared<const Rotation>(hadamard_transform(c.num_heads, c.loaq.rotate_seed));
    for (auto& l : m.layers) l.o_rotation = rot;
  }
  m.final_norm = ckpt.load_f32("model.norm.weight", {c.hidden_size});
  if (!c.tie_word_embeddings) {
    m.lm_head = ckpt.load_f32("lm_head.weight", {c.vocab_size, c.hidden_size});
  }
  return m;
}

}  // namespace loaq
