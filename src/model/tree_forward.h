#pragma once
// The decoder on a prefix tree (prefix_tree.h): every row sees the rows of its segment's ancestors
// and the earlier rows of its own segment, at its position in its sequence, so each sequence's
// hidden states equal those of a plain causal forward of the sequence alone (up to float rounding
// order), while shared prefixes are computed once. Used to score multiple-choice continuations.
// The layers are the plain forward's (decoder_layer with a tree Layout).
#include "core/tensor.h"
#include "model/model.h"
#include "model/prefix_tree.h"

namespace loaq {

// Runs embeddings and every decoder layer on the tree: hidden [rows, H] before the final norm
// (final_logits() of any rows gives their logits).
Tensor tree_forward_hidden(const Model& m, const PrefixTree& t);

}  // namespace loaq
