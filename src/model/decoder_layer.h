#pragma once
// One decoder layer as a unit a layer-wise quantizer can drive: run it on a batch of hidden states,
// observe the input of each group of linears through taps, and swap weights in LayerWeights.
#include <functional>

#include "core/tensor.h"
#include "io/model_config.h"
#include "model/rope.h"
#include "model/weights.h"

namespace loaq {

// Linears that read the same input: q/k/v share the normed attention input, gate/up the normed MLP
// input (the paper's W_in); o and down read the sub-layer's inner activation (W_out).
enum class LinearGroup { kQKV, kO, kGateUp, kDown };

struct LayerTaps {
  // Called with the input X [B·T, in] of each linear group, before the linears run.
  std::function<void(LinearGroup, const Tensor& x)> on_input;
};

struct BatchShape {
  int64_t batch = 1, seq = 0;  // hidden rows are batch-major: row = b·seq + t, positions 0..seq-1
};

// The sub-layer modules before their output linear (paper eq. 5, X_out = φ(Norm(h) W_in)), for a
// normed input x [B·T, H]: attention (q/k/v, q/k-norm, RoPE, causal GQA) → [B·T, q_dim] (rotated
// across heads by the layer's o_rotation when it has one), and the
// MLP silu(gate(x)) ⊙ up(x) → [B·T, I], rotated by the layer's down_rotation when it has one (the
// input down_proj consumes). The taps see x (kQKV / kGateUp). With w.act enabled (W4A4) x is
// quantized per token before q/k/v (gate/up) and the taps see the quantized x; the returned output
// is not quantized: the blocks below quantize it (after any online rotation) before o / down.
Tensor attention_inner(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope, BatchShape s,
                       const Tensor& x, const LayerTaps* taps = nullptr);
Tensor mlp_inner(const ModelConfig& c, const LayerWeights& w, const Tensor& x,
                 const LayerTaps* taps = nullptr);

// hidden ← hidden + o_proj(attention(input_layernorm(hidden))). `rope` must cover `seq` positions.
void attention_block(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                     BatchShape s, Tensor& hidden, const LayerTaps* taps = nullptr);
// hidden ← hidden + down(silu(gate(x)) ⊙ up(x)), x = post_attention_layernorm(hidden).
void mlp_block(const ModelConfig& c, const LayerWeights& w, BatchShape s, Tensor& hidden,
               const LayerTaps* taps = nullptr);
// The whole decoder layer: attention block, then MLP block, on hidden [B·T, H] in place.
void decoder_layer(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope, BatchShape s,
                   Tensor& hidden, const LayerTaps* taps = nullptr);

}  // namespace loaq
