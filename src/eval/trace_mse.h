#pragma once
// The per-layer error of a quantized model against its full-precision original (LoaQ paper,
// Figures 3 and 4): both models run side by side, layer by layer, on the same held-out windows,
// and after each sub-layer (h ← h + attention(·), then h ← h + MLP(·)) the hidden states are
// compared:
//   mse      = Σ_{t∈K} ‖ĥ_t − h_t‖² / (|K|·H)                       (the residual stream, eq. 9)
//   mse_norm = Σ_{t∈K} ‖n(ĥ_t) − n(h_t)‖² / (|K|·H),  n(x) = x / √(mean(x²) + ε)   (eq. 11's Norm)
// n is the RMSNorm that every next sub-layer and the head apply, without its weight (so it commutes
// with a Hadamard rotation of the residual stream, and both measures are the same in either basis).
// Outlier tokens: K excludes the tokens whose full-precision hidden norm ‖h_t‖ at that sub-layer
// is above the `outlier_quantile` quantile of all traced tokens' norms there (nearest rank; the
// attention-sink tokens with massive activations); mse_all / mse_norm_all keep every token.
// A rotated quantized model (`--rotate hadamard`) is compared with its original rotated by the
// same seeded rotations (model/rotate.h), one layer at a time: the function is the same.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/source.h"

namespace loaq {

struct TraceOptions {
  int64_t seqlen = 2048;
  int64_t windows = 16;         // the first windows of the stream (GPTQ protocol windows)
  int64_t batch_tokens = 4096;  // windows run in batches of about this many tokens
  double outlier_quantile = 0.999;
  bool progress = true;
};

struct SublayerMse {
  int64_t layer = 0;
  std::string sublayer;          // "attn" or "mlp" (the mlp row is the decoder layer's output)
  double mse = 0, mse_norm = 0;  // without the outlier tokens
  double mse_all = 0, mse_norm_all = 0;  // every token
  int64_t tokens = 0, outliers = 0;      // traced tokens, and how many of them were excluded
};

// The nearest-rank quantile q ∈ (0, 1] of `v` (sorted copy): the ⌈q·n⌉-th smallest value.
double nearest_rank_quantile(std::vector<double> v, double q);

// Traces `quantized` against `original` on the first o.windows windows of `ids`, 2 rows per layer.
// Throws loaq::Error when the models do not have the same shapes, when the original is rotated
// and the quantized is not (or with another seed), or when not one window fits.
std::vector<SublayerMse> trace_sublayer_mse(const ModelSource& original,
                                            const ModelSource& quantized,
                                            std::span<const int32_t> ids, const TraceOptions& o);

}  // namespace loaq
