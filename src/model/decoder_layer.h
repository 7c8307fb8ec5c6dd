#pragma once
// One decoder layer as a unit a layer-wise quantizer can drive: run it on a batch of hidden states,
// observe the input of each group of linears through taps, and swap weights in LayerWeights. The
// same code runs plain causal windows and prefix trees (multiple-choice scoring): only the
// attention mask and the positions differ (Layout).
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "io/model_config.h"
#include "model/prefix_tree.h"
#include "model/rope.h"
#include "model/weights.h"

namespace loaq {

// Linears that read the same input: q/k/v share the normed attention input, gate/up the normed MLP
// input (the paper's W_in); o and down read the sub-layer's inner activation (W_out).
enum class LinearGroup { kQKV, kO, kGateUp, kDown };

struct LayerTaps {
  // Called with the input X [B·T, in] of each linear group as the linears read it (after any
  // online rotation and activation quantization), before the linears run.
  std::function<void(LinearGroup, const Tensor& x)> on_input;
};

struct BatchShape {
  int64_t batch = 1, seq = 0;  // hidden rows are batch-major: row = b·seq + t, positions 0..seq-1
};

// Which keys each row attends to and at which position it sits: `batch` causal windows of `seq`
// tokens from position 0, or the rows of a prefix tree (each row sees its segment's ancestors and
// the earlier rows of its own segment, at its position in its sequence).
struct Layout {
  BatchShape shape;
  const PrefixTree* tree = nullptr;
  std::vector<int64_t> pos;  // per-row positions (tree only)

  Layout(int64_t batch, int64_t seq) : shape{batch, seq} {}
  Layout(BatchShape s) : shape(s) {}  // NOLINT: a batch of windows is a layout
  explicit Layout(const PrefixTree& t);
  int64_t rows() const { return tree ? tree->rows() : shape.batch * shape.seq; }
  int64_t position(int64_t r) const { return tree ? pos[size_t(r)] : r % shape.seq; }
  int64_t n_positions() const;  // positions the RoPE table must cover
};

// The one entry point of every linear (as llama.cpp's build_lora_mm). rotated_input(): x after
// the layer's online rotation for linear `n` (QuaRot: down_proj's input by T_I, o_proj's input
// across heads by T_heads); linear_input(): that, through the activation quantizer (W4A4) — the
// input the main weight reads. linear_output(): the linear on its rotated input `xr`, with `xq` =
// linear_input() of it (the same tensor when activations are not quantized):
//   y = Q(W) xq + b + L2 · Qa(L1 · Qa(xr))   (the low-rank branch, when the linear has one,
// reads the rotated input at its own activation width, model/lowrank_apply.h). apply_linear():
// all of it from the sub-layer's x.
Tensor rotated_input(const ModelConfig& c, const LayerWeights& w, LinearName n, Tensor x);
Tensor linear_input(const ModelConfig& c, const LayerWeights& w, LinearName n, Tensor x);
Tensor linear_output(const LayerWeights& w, LinearName n, const Tensor& xr, const Tensor& xq);
Tensor apply_linear(const ModelConfig& c, const LayerWeights& w, LinearName n, const Tensor& x);

// The sub-layer modules before their output linear (paper eq. 5, X_out = φ(Norm(h) W_in)), for a
// normed input x [rows, H]: attention (q/k/v, q/k-norm, RoPE, causal GQA) → [rows, q_dim], and the
// MLP silu(gate(x)) ⊙ up(x) → [rows, I]. The output is what o / down receive before their
// linear_input() (rotation, activation quantization). The taps see the q/k/v (gate/up) input.
Tensor attention_inner(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                       const Layout& s, const Tensor& x, const LayerTaps* taps = nullptr);
Tensor mlp_inner(const ModelConfig& c, const LayerWeights& w, const Tensor& x,
                 const LayerTaps* taps = nullptr);

// hidden ← hidden + o_proj(attention(input_layernorm(hidden))). `rope` must cover the positions.
void attention_block(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                     const Layout& s, Tensor& hidden, const LayerTaps* taps = nullptr);
// hidden ← hidden + down(silu(gate(x)) ⊙ up(x)), x = post_attention_layernorm(hidden).
void mlp_block(const ModelConfig& c, const LayerWeights& w, const Layout& s, Tensor& hidden,
               const LayerTaps* taps = nullptr);
// The whole decoder layer: attention block, then MLP block, on hidden [rows, H] in place.
void decoder_layer(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                   const Layout& s, Tensor& hidden, const LayerTaps* taps = nullptr);

}  // namespace loaq
