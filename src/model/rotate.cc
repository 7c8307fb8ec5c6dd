#include "model/rotate.h"

#include <array>
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

ModelRotations make_rotations(const ModelConfig& c, uint64_t seed) {
  if (c.loaq.norms_folded())
    fail(
        "config.json field 'loaq.rotation' is '{}': this checkpoint was already rotated and "
        "its norms are folded; rotate the original checkpoint instead",
        c.loaq.rotation);
  if (c.loaq.online_down || c.loaq.online_o)
    fail(
        "config.json section 'loaq': this checkpoint already carries an online rotation; "
        "rotate the original checkpoint instead");
  ModelRotations r{randomized_hadamard(c.hidden_size, seed),
                   std::make_shared<const Rotation>(hadamard_transform(c.intermediate_size, seed)),
                   hadamard_transform(c.head_dim, seed),
                   std::make_shared<const Rotation>(hadamard_transform(c.num_heads, seed)),
                   {}};
  RotationReport& rep = r.report;
  rep.seed = seed;
  rep.untied_head = c.tie_word_embeddings;
  rep.residual = r.residual.describe();
  rep.online_down = r.down->describe();
  rep.online_o = r.heads->describe();
  rep.head = r.head_dim.describe();
  const std::array<const Rotation*, 4> all = {&r.residual, r.down.get(), &r.head_dim, r.heads.get()};
  for (const Rotation* x : all)
    if (x->fallback) rep.fallbacks.push_back(x->n);
  return r;
}

void rotate_layer(const ModelConfig& c, const ModelRotations& r, LayerWeights& l) {
  if (l.down_rotation || l.o_rotation)
    fail(
        "config.json section 'loaq': this checkpoint already carries an online rotation; "
        "rotate the original checkpoint instead");
  // fuse_layer_norms
  for (Linear* lin : {&l.q, &l.k, &l.v}) fold_norm(lin->w, l.input_norm);
  for (Linear* lin : {&l.gate, &l.up}) fold_norm(lin->w, l.post_attn_norm);
  set_ones(l.input_norm);
  set_ones(l.post_attn_norm);
  // rotate_model: residual stream by R, down_proj's input by T_I.
  for (Linear* lin : {&l.q, &l.k, &l.v, &l.gate, &l.up}) rotate_rows(r.residual, lin->w);
  for (Linear* lin : {&l.o, &l.down}) {
    rotate_columns(r.residual, lin->w);
    if (!lin->b.empty()) apply_rotation(r.residual, lin->b.ptr(), 1);
  }
  rotate_rows(*r.down, l.down.w);
  l.down_rotation = r.down;
  // rotate_ov_proj: v_proj's output by T_hd per head; o_proj's input by T_heads ⊗ T_hd, of which
  // T_hd comes with the attention output (attention is linear in v per head) and T_heads is applied
  // online across heads.
  const int64_t hd = c.head_dim;
  Tensor vt = transposed(l.v.w);  // [H, kv_dim]: rows of [kv_heads, hd]
  apply_rotation(r.head_dim, vt.ptr(), vt.numel() / hd);
  l.v.w = transposed(vt);
  if (!l.v.b.empty()) apply_rotation(r.head_dim, l.v.b.ptr(), l.v.b.numel() / hd);
  apply_rotation(r.head_dim, l.o.w.ptr(), l.o.w.numel() / hd);  // rows of [heads, hd]
  apply_rotation_across(*r.heads, l.o.w.ptr(), l.o.w.rows(), hd);
  l.o_rotation = r.heads;
}

void rotate_embedding_rows(const ModelRotations& r, Tensor& rows) {
  rotate_rows(r.residual, rows);
}

void rotate_head(const ModelRotations& r, Tensor& head, Tensor& final_norm) {
  fold_norm(head, final_norm);
  set_ones(final_norm);
  rotate_rows(r.residual, head);
}

void record_rotation(ModelConfig& c, const ModelRotations& r) {
  c.tie_word_embeddings = false;
  c.loaq.rotation = r.report.mode;
  c.loaq.rotate_seed = r.report.seed;
  c.loaq.online_down = true;
  c.loaq.online_o = true;
}

RotationReport rotate_model(Model& m, uint64_t seed) {
  ModelWeights& w = m.weights;
  const ModelRotations r = make_rotations(m.config, seed);
  for (const auto& l : w.layers)
    if (l.down_rotation || l.o_rotation)
      fail(
          "config.json section 'loaq': this checkpoint already carries an online rotation; "
          "rotate the original checkpoint instead");
  RotationReport rep = r.report;
  rep.untied_head = w.lm_head.empty();
  if (w.lm_head.empty()) w.lm_head = w.embed;  // QuaRot: "Copy the weights if they are tied."
  rotate_head(r, w.lm_head, w.final_norm);
  rotate_embedding_rows(r, w.embed);
  for (auto& l : w.layers) rotate_layer(m.config, r, l);
  record_rotation(m.config, r);
  return rep;
}

}  // namespace loaq
