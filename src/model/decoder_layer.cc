#include "model/decoder_layer.h"

#include <algorithm>

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

Layout::Layout(const PrefixTree& t) : shape{1, t.rows()}, tree(&t), pos(t.positions()) {}

int64_t Layout::n_positions() const {
  if (!tree) return shape.seq;
  return pos.empty() ? 0 : *std::max_element(pos.begin(), pos.end()) + 1;
}

Tensor linear_input(const ModelConfig& c, const LayerWeights& w, LinearName n, Tensor xin) {
  if (n == LinearName::kO && w.o_rotation)  // QuaRot's online partial Hadamard across heads
    apply_rotation_across(*w.o_rotation, xin.ptr(), xin.rows(), c.head_dim);
  if (n == LinearName::kDown && w.down_rotation)  // QuaRot's online Hadamard
    apply_rotation(*w.down_rotation, xin.ptr(), xin.rows());
  quantize_activations(w.act, xin.ptr(), xin.rows(), xin.cols());
  return xin;
}

Tensor apply_linear(const ModelConfig& c, const LayerWeights& w, LinearName n, const Tensor& x) {
  return apply_linear(w.linear(n), linear_input(c, w, n, x));
}

Tensor attention_inner(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                       const Layout& s, const Tensor& x, const LayerTaps* taps) {
  const int64_t rows = s.rows();
  if (x.numel() != rows * c.hidden_size)
    fail("attention: input has {} values, expected {}×{}", x.numel(), rows, c.hidden_size);
  if (rope.n_pos < s.n_positions())
    fail("attention: RoPE table covers {} < {} positions", rope.n_pos, s.n_positions());
  const Tensor xin = linear_input(c, w, LinearName::kQ, x);  // q, k and v read the same input
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
    const int64_t pos = s.position(r);
    apply_rope(rope, pos, q.row(r), c.num_heads);
    apply_rope(rope, pos, k.row(r), c.num_kv_heads);
  }
  Tensor a({rows, c.q_dim()});
  if (s.tree)
    tree_attention(*s.tree, c.num_heads, c.num_kv_heads, c.head_dim, q.ptr(), k.ptr(), v.ptr(),
                   a.ptr());
  else
    causal_attention({s.shape.batch, s.shape.seq, c.num_heads, c.num_kv_heads, c.head_dim},
                     q.ptr(), k.ptr(), v.ptr(), a.ptr());
  return a;
}

Tensor mlp_inner(const ModelConfig& c, const LayerWeights& w, const Tensor& x,
                 const LayerTaps* taps) {
  const Tensor xin = linear_input(c, w, LinearName::kGate, x);  // gate and up read the same input
  tap(taps, LinearGroup::kGateUp, xin);
  Tensor g = apply_linear(w.gate, xin);
  const Tensor u = apply_linear(w.up, xin);
  silu_mul(g.ptr(), u.ptr(), g.numel());
  return g;
}

namespace {
void add_into(Tensor& hidden, const Tensor& y) {
  for (int64_t i = 0; i < hidden.numel(); ++i) hidden.data[size_t(i)] += y.data[size_t(i)];
}
}  // namespace

void attention_block(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                     const Layout& s, Tensor& hidden, const LayerTaps* taps) {
  const Tensor x = rms_norm(hidden, w.input_norm, c.rms_norm_eps);
  const Tensor a = linear_input(c, w, LinearName::kO, attention_inner(c, w, rope, s, x, taps));
  tap(taps, LinearGroup::kO, a);
  add_into(hidden, apply_linear(w.o, a));
}

void mlp_block(const ModelConfig& c, const LayerWeights& w, const Layout& s, Tensor& hidden,
               const LayerTaps* taps) {
  if (hidden.numel() != s.rows() * c.hidden_size)
    fail("mlp_block: hidden has {} values, expected {}×{}", hidden.numel(), s.rows(),
         c.hidden_size);
  const Tensor x = rms_norm(hidden, w.post_attn_norm, c.rms_norm_eps);
  const Tensor g = linear_input(c, w, LinearName::kDown, mlp_inner(c, w, x, taps));
  tap(taps, LinearGroup::kDown, g);
  add_into(hidden, apply_linear(w.down, g));
}

void decoder_layer(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                   const Layout& s, Tensor& hidden, const LayerTaps* taps) {
  attention_block(c, w, rope, s, hidden, taps);
  mlp_block(c, w, s, hidden, taps);
}

}  // namespace loaq
