#pragma once
// QuaRot's exact re-parametrization of a model before quantization (rotation_utils.py:
// fuse_layer_norms, rotate_model; LoaQ paper appendix B.2): the same function, computed with
// weights that are easier to quantize.
//   1. Untie the head from the embeddings if tied (the head gets its own copy).
//   2. Fold each RMSNorm's weight γ into the linears that read it: q/k/v ← W diag(γ_input),
//      gate/up ← W diag(γ_post_attention), head ← W diag(γ_final); the norms become ones.
//      (RMSNorm without weight commutes with an orthogonal map: ‖Rh‖ = ‖h‖.)
//   3. Rotate the residual stream h ← R h with R = T_H · diag(d) (randomized Hadamard, seeded):
//      the embedding rows and the writers' outputs (o_proj, down_proj and their biases) by R, the
//      readers (q/k/v, gate/up, head) by W ← W Rᵀ.
//   4. Online rotation of down_proj's input by T_I (Hadamard of the intermediate size): the weight
//      absorbs W ← W T_Iᵀ now, the activation is rotated at run time (LayerWeights::down_rotation).
//   5. rotate_ov_proj: v_proj's output rotated per head by T_hd (attention is linear in v, so the
//      attention output comes rotated per head), o_proj's input by T_heads ⊗ T_hd offline, and the
//      attention output rotated across heads by T_heads at run time (LayerWeights::o_rotation).
// Qwen3's q/k-norm acts on q/k outputs and is untouched; q/k/v biases are outputs and unchanged.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"

namespace loaq {

struct RotationReport {
  std::string mode = "hadamard";
  uint64_t seed = 0;
  std::string residual;     // Rotation::describe() of R
  std::string online_down;  // Rotation::describe() of T_I
  std::string online_o;     // of T_heads, applied online across heads on o_proj's input
  std::string head;         // of T_hd, absorbed per head by v_proj and o_proj
  bool untied_head = false;
  std::vector<int64_t>
      fallbacks;  // sizes rotated by a random orthogonal matrix (no Hadamard construction)
};

// The rotations of one model (seeded), so that it can be rotated a layer at a time.
struct ModelRotations {
  Rotation residual;                        // R = T_H · diag(d)
  std::shared_ptr<const Rotation> down;     // T_I, online on down_proj's input
  Rotation head_dim;                        // T_hd, absorbed per head by v_proj and o_proj
  std::shared_ptr<const Rotation> heads;    // T_heads, online across heads on o_proj's input
  RotationReport report;
};
// Refuses a config whose norms are already folded (its "loaq" section says it was rotated).
ModelRotations make_rotations(const ModelConfig& c, uint64_t seed);

// Steps 2–5 on one decoder layer (norms folded into q/k/v and gate/up, residual rotation, online
// rotations attached). Refuses a layer that already carries an online rotation.
void rotate_layer(const ModelConfig& c, const ModelRotations& r, LayerWeights& l);
// The embedding rows [n, H] (a reader-independent writer of the residual stream): each row ← R row.
void rotate_embedding_rows(const ModelRotations& r, Tensor& rows);
// The head [V, H] (untied copy) with the final norm folded in, then rotated; the norm becomes ones.
void rotate_head(const ModelRotations& r, Tensor& head, Tensor& final_norm);
// Records the rotation in the config (tie_word_embeddings = false, the "loaq" section).
void record_rotation(ModelConfig& c, const ModelRotations& r);

// Rotates `m` in place and records it in m.config (tie_word_embeddings = false, the "loaq"
// section). Refuses a model whose norms are already folded (its config.json "loaq" section says it
// was rotated) or whose layers already carry an online rotation.
RotationReport rotate_model(Model& m, uint64_t seed);

}  // namespace loaq
