#include "model/decoder_layer.h"

#include <algorithm>

#include "core/error.h"
#include "model/act_quant.h"
#include "model/attention.h"
#include "model/lowrank_apply.h"
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

Tensor rotated_input(const ModelConfig& c, const LayerWeights& w, LinearName n, Tensor xin) {
  if (n == LinearName::kO && w.o_rotation)  // QuaRot's online partial Hadamard across heads
    apply_rotation_across(*w.o_rotation, xin.ptr(), xin.rows(), c.head_dim);
  if (n == LinearName::kDown && w.down_rotation)  // QuaRot's online Hadamard
    apply_rotation(*w.down_rotation, xin.ptr(), xin.rows());
  return xin;
}

Tensor linear_input(const ModelConfig& c, const LayerWeights& w, LinearName n, Tensor xin) {
  xin = rotated_input(c, w, n, std::move(xin));
  quantize_activations(w.act, xin.ptr(), xin.rows(), xin.cols());
  return xin;
}

Tensor linear_output(const LayerWeights& w, LinearName n, const Tensor& xr, const Tensor& xq) {
  const Linear& l = w.linear(n);
  Tensor y = apply_linear(l, xq);
  if (l.lowrank) apply_lowrank(*l.lowrank, xr.ptr(), xr.rows(), y.ptr());
  return y;
}

Tensor apply_linear(const ModelConfig& c, const LayerWeights& w, LinearName n, const Tensor& x) {
  const Tensor xr = rotated_input(c, w, n, x);
  Tensor buf;
  return linear_output(w, n, xr, quantized_input(w.act, xr, buf));
}

Tensor attention_inner(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                       const Layout& s, const Tensor& x, const LayerTaps* taps) {
  const int64_t rows = s.rows();
  if (x.numel() != rows * c.hidden_size)
    fail("attention: input has {} values, expected {}×{}", x.numel(), rows, c.hidden_size);
  if (rope.n_pos < s.n_positions())
    fail("attention: RoPE table covers {} < {} positions", rope.n_pos, s.n_positions());
  // q, k and v read the same input
  const Tensor xr = rotated_input(c, w, LinearName::kQ, x);
  Tensor buf;
  const Tensor& xin = quantized_input(w.act, xr, buf);
  tap(taps, LinearGroup::kQKV, xin);
  Tensor q = linear_output(w, LinearName::kQ, xr, xin);
  Tensor k = linear_output(w, LinearName::kK, xr, xin);
  const Tensor v = linear_output(w, LinearName::kV, xr, xin);
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
    causal_attention({s.shape.batch, s.shape.seq, c.num_heads, c.num_kv_heads, c.head_dim}, q.ptr(),
                     k.ptr(), v.ptr(), a.ptr());
  return a;
}

Tensor mlp_inner(const ModelConfig& c, const LayerWeights& w, const Tensor& x,
                 const LayerTaps* taps) {
  // gate and up read the same input
  const Tensor xr = rotated_input(c, w, LinearName::kGate, x);
  Tensor buf;
  const Tensor& xin = quantized_input(w.act, xr, buf);
  tap(taps, LinearGroup::kGateUp, xin);
  Tensor g = linear_output(w, LinearName::kGate, xr, xin);
  const Tensor u = linear_output(w, LinearName::kUp, xr, xin);
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
  const Tensor ar = rotated_input(c, w, LinearName::kO, attention_inner(c, w, rope, s, x, taps));
  Tensor buf;
  const Tensor& a = quantized_input(w.act, ar, buf);
  tap(taps, LinearGroup::kO, a);
  add_into(hidden, linear_output(w, LinearName::kO, ar, a));
}

void mlp_block(const ModelConfig& c, const LayerWeights& w, const Layout& s, Tensor& hidden,
               const LayerTaps* taps) {
  if (hidden.numel() != s.rows() * c.hidden_size)
    fail("mlp_block: hidden has {} values, expected {}×{}", hidden.numel(), s.rows(),
         c.hidden_size);
  const Tensor x = rms_norm(hidden, w.post_attn_norm, c.rms_norm_eps);
  const Tensor gr = rotated_input(c, w, LinearName::kDown, mlp_inner(c, w, x, taps));
  Tensor buf;
  const Tensor& g = quantized_input(w.act, gr, buf);
  tap(taps, LinearGroup::kDown, g);
  add_into(hidden, linear_output(w, LinearName::kDown, gr, g));
}

void decoder_layer(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                   const Layout& s, Tensor& hidden, const LayerTaps* taps) {
  attention_block(c, w, rope, s, hidden, taps);
  mlp_block(c, w, s, hidden, taps);
}

}  // namespace loaq
