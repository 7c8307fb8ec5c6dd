#include "model/decoder_layer.h"

#include "core/error.h"
#include "model/act_quant.h"
#include "model/attention.h"
#include "model/ops.h"

namespace loaq {

namespace {
void tap(const LayerTaps* taps, LinearGroup g, const Tensor& x) {
  if (taps && taps->on_input) taps->on_input(g, x);
}
}  // namespace

Tensor attention_inner(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                       BatchShape s, const Tensor& x, const LayerTaps* taps) {
  const int64_t rows = s.batch * s.seq;
  if (x.numel() != rows * c.hidden_size)
    fail("attention: input has {} values, expected {}×{}", x.numel(), rows, c.hidden_size);
  if (rope.n_pos < s.seq) fail("attention: RoPE table covers {} < {} positions", rope.n_pos, s.seq);
  Tensor xbuf;
  const Tensor& xin = quantized_input(w.act, x, xbuf);
  tap(taps, LinearGroup::kQKV, xin);
  Tensor q = apply_linear(w.q, xin);
  Tensor k = apply_linear(w.k, xin);
  const Tensor v = apply_linear(w.v, xin);
  if (c.qk_norm) {  // Qwen3: RMSNorm over each head, before RoPE
    rms_norm(q.ptr(), rows * c.num_heads, c.head_dim, w.q_norm.ptr(), c.rms_norm_eps, q.ptr());
    rms_norm(k.ptr(), rows * c.num_kv_heads, c.head_dim, w.k_norm.ptr(), c.rms_norm_eps, k.ptr());
  }
#pragma omp parallel for schedule(static) if (rows > 64)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t pos = r % s.seq;
    apply_rope(rope, pos, q.row(r), c.num_heads);
    apply_rope(rope, pos, k.row(r), c.num_kv_heads);
  }
  Tensor a({rows, c.q_dim()});
  causal_attention({s.batch, s.seq, c.num_heads, c.num_kv_heads, c.head_dim}, q.ptr(), k.ptr(),
                   v.ptr(), a.ptr());
  if (w.o_rotation) apply_rotation_across(*w.o_rotation, a.ptr(), rows, c.head_dim);  // QuaRot's online partial Hadamard
  return a;
}

Tensor mlp_inner(const ModelConfig&, const LayerWeights& w, const Tensor& x,
                 const LayerTaps* taps) {
  Tensor xbuf;
  const Tensor& xin = quantized_input(w.act, x, xbuf);
  tap(taps, LinearGroup::kGateUp, xin);
  Tensor g = apply_linear(w.gate, xin);
  const Tensor u = apply_linear(w.up, xin);
  silu_mul(g.ptr(), u.ptr(), g.numel());
  if (w.down_rotation) apply_rotation(*w.down_rotation, g.ptr(), g.rows());  // QuaRot's online Hadamard
  return g;
}

void attention_block(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                     BatchShape s, Tensor& hidden, const LayerTaps* taps) {
  const Tensor x = rms_norm(hidden, w.input_norm, c.rms_norm_eps);
  Tensor a = attention_inner(c, w, rope, s, x, taps);
  quantize_activations(w.act, a.ptr(), a.rows(), a.cols());
  tap(taps, LinearGroup::kO, a);
  const Tensor o = apply_linear(w.o, a);
  for (int64_t i = 0; i < hidden.numel(); ++i) hidden.data[size_t(i)] += o.data[size_t(i)];
}

void mlp_block(const ModelConfig& c, const LayerWeights& w, BatchShape s, Tensor& hidden,
               const LayerTaps* taps) {
  const int64_t rows = s.batch * s.seq;
  if (hidden.numel() != rows * c.hidden_size)
    fail("mlp_block: hidden has {} values, expected {}×{}", hidden.numel(), rows, c.hidden_size);
  const Tensor x = rms_norm(hidden, w.post_attn_norm, c.rms_norm_eps);
  Tensor g = mlp_inner(c, w, x, taps);
  quantize_activations(w.act, g.ptr(), g.rows(), g.cols());
  tap(taps, LinearGroup::kDown, g);
  const Tensor d = apply_linear(w.down, g);
  for (int64_t i = 0; i < hidden.numel(); ++i) hidden.data[size_t(i)] += d.data[size_t(i)];
}

void decoder_layer(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope, BatchShape s,
                   Tensor& hidden, const LayerTaps* taps) {
  attention_block(c, w, rope, s, hidden, taps);
  mlp_block(c, w, s, hidden, taps);
}

}  // namespace loaq
