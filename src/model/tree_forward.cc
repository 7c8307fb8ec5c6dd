#include "model/tree_forward.h"

#include <algorithm>
#include <cmath>

#include "core/blas.h"
#include "core/error.h"
#include "model/ops.h"
#include "model/rope.h"

namespace loaq {

void tree_attention(const PrefixTree& t, int64_t n_heads, int64_t n_kv_heads, int64_t hd,
                    const float* q, const float* k, const float* v, float* out) {
  const int64_t qs = n_heads * hd, ks = n_kv_heads * hd;  // row strides
  const int64_t rep = n_heads / n_kv_heads;
  const float scale = float(1.0 / std::sqrt(double(hd)));
  constexpr int64_t kBlock = 256;  // query rows per block: bounds the score buffer
  const auto n_seg = int64_t(t.segments.size());
  const int64_t tasks = n_seg * n_heads;
#pragma omp parallel
  {
    std::vector<float> scores;
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t si = task / n_heads, h = task % n_heads, g = h / rep;
      const TreeSegment& seg = t.segments[size_t(si)];
      const std::vector<int64_t> chain = t.chain(si);  // ancestors, then the segment itself
      const int64_t n_anc = seg.pos0;                  // keys before the segment's first row
      for (int64_t r0 = 0; r0 < seg.len; r0 += kBlock) {
        const int64_t r1 = std::min(seg.len, r0 + kBlock), nr = r1 - r0;
        const int64_t width = n_anc + r1;  // keys the block's last row sees
        scores.resize(size_t(nr * width));
        const float* qh = q + (seg.row0 + r0) * qs + h * hd;
        // S[nr, width] = scale · Q Kᵀ over the key runs of the chain (the own run up to r1).
        int64_t col = 0;
        for (const int64_t c : chain) {
          const TreeSegment& ks_seg = t.segments[size_t(c)];
          const int64_t n = c == si ? r1 : ks_seg.len;
          gemm(false, true, nr, n, hd, scale, qh, qs, k + ks_seg.row0 * ks + g * hd, ks, 0.0f,
               scores.data() + col, width);
          col += n;
        }
        for (int64_t i = 0; i < nr; ++i) {
          float* row = scores.data() + i * width;
          const int64_t len = n_anc + r0 + i + 1;  // causal within the segment
          softmax_prefix(row, len);
          std::fill(row + len, row + width, 0.0f);
        }
        // O = P V over the same runs.
        float* oh = out + (seg.row0 + r0) * qs + h * hd;
        col = 0;
        for (const int64_t c : chain) {
          const TreeSegment& vs_seg = t.segments[size_t(c)];
          const int64_t n = c == si ? r1 : vs_seg.len;
          gemm(false, false, nr, hd, n, 1.0f, scores.data() + col, width,
               v + vs_seg.row0 * ks + g * hd, ks, col == 0 ? 0.0f : 1.0f, oh, qs);
          col += n;
        }
      }
    }
  }
}

namespace {

// hidden ← hidden + o_proj(tree_attention(q, k, v of input_layernorm(hidden))): attention_block()
// with per-row positions and the tree mask.
void tree_attention_block(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                          const PrefixTree& t, const std::vector<int64_t>& pos, Tensor& hidden) {
  const int64_t rows = t.rows();
  const Tensor x = rms_norm(hidden, w.input_norm, c.rms_norm_eps);
  Tensor q = apply_linear(w.q, x);
  Tensor k = apply_linear(w.k, x);
  const Tensor v = apply_linear(w.v, x);
  if (c.qk_norm) {  // Qwen3: RMSNorm over each head, before RoPE
    rms_norm(q.ptr(), rows * c.num_heads, c.head_dim, w.q_norm.ptr(), c.rms_norm_eps, q.ptr());
    rms_norm(k.ptr(), rows * c.num_kv_heads, c.head_dim, w.k_norm.ptr(), c.rms_norm_eps, k.ptr());
  }
#pragma omp parallel for schedule(static) if (rows > 64)
  for (int64_t r = 0; r < rows; ++r) {
    apply_rope(rope, pos[size_t(r)], q.row(r), c.num_heads);
    apply_rope(rope, pos[size_t(r)], k.row(r), c.num_kv_heads);
  }
  Tensor a({rows, c.q_dim()});
  tree_attention(t, c.num_heads, c.num_kv_heads, c.head_dim, q.ptr(), k.ptr(), v.ptr(), a.ptr());
  const Tensor o = apply_linear(w.o, a);
  for (int64_t i = 0; i < hidden.numel(); ++i) hidden.data[size_t(i)] += o.data[size_t(i)];
}

}  // namespace

Tensor tree_forward_hidden(const Model& m, const PrefixTree& t) {
  if (t.rows() == 0) fail("tree_forward: empty batch");
  const std::vector<int64_t> pos = t.positions();
  const int64_t n_pos = *std::max_element(pos.begin(), pos.end()) + 1;
  const RopeTable rope = make_rope_table(m.config, n_pos);
  Tensor h = embed(m, t.ids);
  for (const auto& layer : m.weights.layers) {
    tree_attention_block(m.config, layer, rope, t, pos, h);
    mlp_block(m.config, layer, {1, t.rows()}, h);
  }
  return h;
}

}  // namespace loaq
