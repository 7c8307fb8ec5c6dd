#pragma once
// Rotary position embeddings in Hugging Face's rotate-half layout.
#include <cstdint>
#include <vector>

#include "io/model_config.h"

namespace loaq {

// inv_freq[j] = theta^(-2j/head_dim), j < head_dim/2, with the llama3 frequency scaling when the
// config has it (transformers' _compute_llama3_parameters). Computed in double.
std::vector<double> rope_inv_freq(const ModelConfig& c);

// cos/sin of position·inv_freq for positions 0..n_pos-1: [n_pos, head_dim/2] each. The angle and
// its cos/sin are computed in double, then rounded to float.
struct RopeTable {
  int64_t n_pos = 0, half = 0;
  std::vector<float> cos, sin;
};
RopeTable make_rope_table(const ModelConfig& c, int64_t n_pos);

// Rotates `n_heads` heads of length 2·half stored contiguously in `x` (one token) at position `pos`:
// x' = x·cos + rotate_half(x)·sin, pairs (j, j + half).
void apply_rope(const RopeTable& t, int64_t pos, float* x, int64_t n_heads);

}  // namespace loaq
