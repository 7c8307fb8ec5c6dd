#pragma once
// The weights of a decoder-only model by role, in fp32, stored [out, in] as in the checkpoint.
// A layer-wise quantizer replaces a linear's weight by assigning to its `w` (same shape).
#include <array>
#include <memory>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "io/checkpoint.h"
#include "model/act_quant.h"
#include "transform/hadamard.h"

namespace loaq {

struct LowRankLinear;  // model/lowrank_apply.h

struct Linear {
  Tensor w;  // [out, in]
  Tensor b;  // [out], empty when the layer has no bias
  // The low-rank branch y += L2 · Qa(L1 · Qa(x)) (issue 14), run by linear_output()
  // (model/decoder_layer.h); null when the linear has none. Shared: copies of a layer share it.
  std::shared_ptr<const LowRankLinear> lowrank;
  int64_t out() const { return w.rows(); }
  int64_t in() const { return w.cols(); }
};

enum class LinearName { kQ, kK, kV, kO, kGate, kUp, kDown };
inline constexpr std::array<LinearName, 7> kAllLinears = {
    LinearName::kQ,    LinearName::kK,  LinearName::kV,   LinearName::kO,
    LinearName::kGate, LinearName::kUp, LinearName::kDown};
// "self_attn.q_proj", ..., "mlp.down_proj": the Hugging Face module path within a layer.
std::string_view linear_path(LinearName n);

struct LayerWeights {
  Tensor input_norm;      // input_layernorm.weight [H]
  Tensor post_attn_norm;  // post_attention_layernorm.weight [H]
  Tensor q_norm, k_norm;  // Qwen3 only: [head_dim]
  Linear q, k, v, o, gate, up, down;
  ActQuant act;  // quantization of the inputs of all seven linears (W4A4); off by default
  // Online rotation of down_proj's input (QuaRot): when set, the MLP's inner activation is rotated
  // at run time, x ← T x, and `down.w` holds W Tᵀ (absorbed offline), so the output is unchanged.
  std::shared_ptr<const Rotation> down_rotation;
  // Online rotation of o_proj's input across heads (QuaRot's online_partial_had): the attention
  // output [heads, head_dim] per token becomes T_heads · A; v_proj (per head) and o_proj absorb the
  // rest offline.
  std::shared_ptr<const Rotation> o_rotation;

  Linear& linear(LinearName n);
  const Linear& linear(LinearName n) const;
};

struct ModelWeights {
  Tensor embed;  // embed_tokens [V, H]
  std::vector<LayerWeights> layers;
  Tensor final_norm;  // norm.weight [H]
  Tensor lm_head;     // [V, H]; empty when tied to the embeddings
  const Tensor& head() const { return lm_head.empty() ? embed : lm_head; }
};

// Loads layer i, checking every shape against config.json; a missing weight, a wrong shape or a
// non-finite value is an error naming the tensor and the file. A checkpoint whose config.json
// "loaq" section has "lowrank_branches" gets each linear's branch from its quant_state files
// (io/lowrank_state.h); a missing or malformed branch is an error naming the file.
LayerWeights load_layer(const Checkpoint& ckpt, int64_t i);
// Loads the whole model; a config.json "loaq" section with online_down_rotation gives every layer
// its down_rotation (hadamard_transform(intermediate_size, rotate_seed)), online_o_rotation its
// o_rotation (hadamard_transform(num_heads, rotate_seed)).
ModelWeights load_weights(const Checkpoint& ckpt);

}  // namespace loaq
