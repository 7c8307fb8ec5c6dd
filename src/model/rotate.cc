#include "model/rotate.h"

#include <memory>

#include "core/error.h"

namespace loaq {

namespace {

// W[out, in] ← W diag(γ): the norm's weight moves into the linear that reads the norm's output.
void fold_norm(Tensor& w, const Tensor& gamma) {
  for (int64_t r = 0; r < w.rows(); ++r) {
    float* row = w.row(r);
    for (int64_t j = 0; j < w.cols(); ++j) row[j] *= gamma.data[size_t(j)];
  }
}

void set_ones(Tensor& t) {
  std::fill(t.data.begin(), t.data.end(), 1.0f);
}

// Each row w of W[rows, n] ← R w, i.e. W ← W Rᵀ (a reader of the rotated vector).
void rotate_rows(const Rotation& r, Tensor& w) {
  apply_rotation(r, w.ptr(), w.rows());
}

Tensor transposed(const Tensor& w) {
  const int64_t n = w.rows(), c = w.cols();
  Tensor t({c, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j) t.data[size_t(j * n + i)] = w.data[size_t(i * c + j)];
  return t;
}

// Each column of W[n, cols] ← R column, i.e. W ← R W (a writer of the rotated vector).
void rotate_columns(const Rotation& r, Tensor& w) {
  Tensor t = transposed(w);
  rotate_rows(r, t);
  w = transposed(t);
}

}  // namespace

RotationReport rotate_model(Model& m, uint64_t seed) {
  ModelConfig& c = m.config;
  ModelWeights& w = m.weights;
  if (c.loaq.norms_folded())
    fail(
        "config.json field 'loaq.rotation' is '{}': this checkpoint was already rotated and "
        "its norms are folded; rotate the original checkpoint instead",
        c.loaq.rotation);
  for (const auto& l : w.layers)
    if (l.down_rotation || l.o_rotation)
      fail(
          "config.json section 'loaq': this checkpoint already carries an online rotation; "
          "rotate the original checkpoint instead");

  RotationReport rep;
  rep.seed = seed;
  if (w.lm_head.empty()) {  // QuaRot: "Copy the weights if they are tied."
    w.lm_head = w.embed;
    rep.untied_head = true;
  }

  // fuse_layer_norms
  for (auto& l : w.layers) {
    for (Linear* lin : {&l.q, &l.k, &l.v}) fold_norm(lin->w, l.input_norm);
    for (Linear* lin : {&l.gate, &l.up}) fold_norm(lin->w, l.post_attn_norm);
    set_ones(l.input_norm);
    set_ones(l.post_attn_norm);
  }
  fold_norm(w.lm_head, w.final_norm);
  set_ones(w.final_norm);

  // rotate_model: residual stream by R, down_proj's input by T_I.
  const Rotation r = randomized_hadamard(c.hidden_size, seed);
  const auto t = std::make_shared<const Rotation>(hadamard_transform(c.intermediate_size, seed));
  rep.residual = r.describe();
  rep.online_down = t->describe();
  if (r.fallback) rep.fallbacks.push_back(r.n);
  if (t->fallback) rep.fallbacks.push_back(t->n);

  // rotate_ov_proj: v_proj's output by T_hd per head; o_proj's input by T_heads ⊗ T_hd, of which
  // T_hd comes with the attention output (attention is linear in v per head) and T_heads is applied
  // online across heads.
  const int64_t hd = c.head_dim;
  const Rotation t_hd = hadamard_transform(hd, seed);
  const auto t_heads = std::make_shared<const Rotation>(hadamard_transform(c.num_heads, seed));
  rep.online_o = t_heads->describe();
  rep.head = t_hd.describe();
  if (t_hd.fallback) rep.fallbacks.push_back(t_hd.n);
  if (t_heads->fallback) rep.fallbacks.push_back(t_heads->n);

  rotate_rows(r, w.embed);
  rotate_rows(r, w.lm_head);
  for (auto& l : w.layers) {
    for (Linear* lin : {&l.q, &l.k, &l.v, &l.gate, &l.up}) rotate_rows(r, lin->w);
    for (Linear* lin : {&l.o, &l.down}) {
      rotate_columns(r, lin->w);
      if (!lin->b.empty()) apply_rotation(r, lin->b.ptr(), 1);
    }
    rotate_rows(*t, l.down.w);
    l.down_rotation = t;

    Tensor vt = transposed(l.v.w);  // [H, kv_dim]: rows of [kv_heads, hd]
    apply_rotation(t_hd, vt.ptr(), vt.numel() / hd);
    l.v.w = transposed(vt);
    if (!l.v.b.empty()) apply_rotation(t_hd, l.v.b.ptr(), l.v.b.numel() / hd);
    apply_rotation(t_hd, l.o.w.ptr(), l.o.w.numel() / hd);  // rows of [heads, hd]
    apply_rotation_across(*t_heads, l.o.w.ptr(), l.o.w.rows(), hd);
    l.o_rotation = t_heads;
  }

  c.tie_word_embeddings = false;
  c.loaq.rotation = rep.mode;
  c.loaq.rotate_seed = seed;
  c.loaq.online_down = true;
  c.loaq.online_o = true;
  return rep;
}

}  // namespace loaq
