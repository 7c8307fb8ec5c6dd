#pragma once
// Causal grouped-query self-attention core (after the q/k/v projections, before o_proj).
#include <cstdint>

#include "core/tensor.h"
#include "model/prefix_tree.h"

namespace loaq {

struct AttentionShape {
  int64_t batch = 1, seq = 0;           // rows are batch-major: row = b·seq + t
  int64_t n_heads = 0, n_kv_heads = 0;  // query heads; KV head g serves heads g·rep … g·rep+rep-1
  int64_t head_dim = 0;
};

// out[B·T, n_heads·head_dim] = softmax(q kᵀ · head_dim^-½ + causal mask) v, per batch row and head,
// with q [B·T, n_heads·head_dim], k and v [B·T, n_kv_heads·head_dim] (RoPE already applied).
// Only the causal (lower) part of each score matrix is computed, in row blocks through BLAS.
void causal_attention(const AttentionShape& s, const float* q, const float* k, const float* v,
                      float* out);

// Causal GQA attention over a prefix tree (prefix_tree.h): out[r] = softmax(q[r] K_keys(r)ᵀ ·
// head_dim^-½) V_keys(r) with keys(r) = all rows of the ancestors of r's segment, then the rows of
// r's segment up to r. q [rows, n_heads·head_dim], k and v [rows, n_kv_heads·head_dim] (RoPE
// applied).
void tree_attention(const PrefixTree& t, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                    const float* q, const float* k, const float* v, float* out);

}  // namespace loaq
