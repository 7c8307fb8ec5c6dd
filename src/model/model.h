#pragma once
// A loaded model and its forward pass: embeddings → decoder layers → final norm → head.
#include <span>
#include <string>

#include "io/checkpoint.h"
#include "model/decoder_layer.h"
#include "model/weights.h"

namespace loaq {

struct Model {
  ModelConfig config;
  ModelWeights weights;
};

// Opens the checkpoint directory and loads all weights in fp32.
Model load_model(const std::string& dir);
Model load_model(const Checkpoint& ckpt);

// hidden [ids.size(), H] = embed_tokens[ids]. Ids out of range are an error.
Tensor embed(const Model& m, std::span<const int32_t> ids);

// Runs every decoder layer on hidden [B·T, H] in place (before the final norm).
void forward_layers(const Model& m, BatchShape s, Tensor& hidden);

// logits[rows, V] = head(final_norm(hidden)) for the given rows of hidden [rows, H].
Tensor final_logits(const Model& m, const Tensor& hidden);

// The two halves of final_logits, so that a caller can produce logits a few rows at a time into a
// buffer it reuses: final_norm(hidden) [rows, H], then logits [rows, V] of `rows` normed rows
// starting at `x` (row-major, stride H) into `out` (stride V; overwritten, not accumulated).
Tensor final_norm(const Model& m, const Tensor& hidden);
void head_logits(const Model& m, const float* x, int64_t rows, float* out);

// The whole forward pass on ids [B·T] (batch-major): logits [B·T, V].
Tensor forward(const Model& m, std::span<const int32_t> ids, BatchShape s);

}  // namespace loaq
