#pragma once
// The decoder on a prefix tree (prefix_tree.h): every row sees the rows of its segment's ancestors
// and the earlier rows of its own segment, at its position in its sequence, so each sequence's
// hidden states equal those of a plain causal forward of the sequence alone (up to float rounding
// order), while shared prefixes are computed once. Used to score multiple-choice continuations.
#include "core/tensor.h"
#include "model/model.h"
#include "model/prefix_tree.h"

namespace loaq {

// Causal GQA attention over a prefix tree: out[r] = softmax(q[r] K_keys(r)ᵀ · head_dim^-½)
// V_keys(r) with keys(r) = all rows of the ancestors of r's segment, then the rows of r's segment
// up to r. q [rows, n_heads·head_dim], k and v [rows, n_kv_heads·head_dim] (RoPE applied).
void tree_attention(const PrefixTree& t, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                    const float* q, const float* k, const float* v, float* out);

// Runs embeddings and every decoder layer on the tree: hidden [rows, H] before the final norm
// (final_logits() of any rows gives their logits).
Tensor tree_forward_hidden(const Model& m, const PrefixTree& t);

}  // namespace loaq
