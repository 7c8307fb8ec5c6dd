#pragma once
// A model read layer by layer (paper §2.2; IST-DASLab/gptq llama_sequential): the weights stay in
// the checkpoint's memory map, in their own dtype; a decoder layer is converted to fp32 when it is
// asked for and released by the caller; the embedding rows are read per token and the head in
// blocks of rows, never converted whole. The same interface serves a resident fp32 Model (tests,
// and models rewritten in memory), so every forward pass has one code path.
#include <cstdint>
#include <memory>
#include <span>

#include "io/checkpoint.h"
#include "model/model.h"

namespace loaq {

class ModelSource {
 public:
  // Streams from `ckpt` (which must outlive the source).
  ModelSource(const Checkpoint& ckpt);  // NOLINT: a checkpoint is read as a source
  // Views a resident model (which must outlive the source).
  ModelSource(const Model& m);  // NOLINT: a resident model is a source

  const ModelConfig& config() const { return config_; }
  int64_t num_layers() const { return config_.num_layers; }
  bool resident() const { return model_ != nullptr; }

  // Decoder layer i in fp32 with its online rotations and activation quantizer, as
  // load_weights() gives it. Streaming: converted now, and its mapped pages dropped from the
  // resident set; the caller holds it only while it works on it.
  std::shared_ptr<const LayerWeights> layer(int64_t i) const;

  // hidden [ids.size(), H] = embed_tokens[ids]; ids out of range or a non-finite row are errors.
  Tensor embed(std::span<const int32_t> ids) const;
  // final_norm(hidden) [rows, H].
  Tensor final_norm(const Tensor& hidden) const;
  // logits [rows, V] (row stride V, overwritten) of `rows` normed rows at `x` (stride H).
  void head_logits(const float* x, int64_t rows, float* out) const;
  int64_t vocab() const { return config_.vocab_size; }
  // Whole fp32 copies, for rewriting the model (rotation) only: the embedding [V, H], the head
  // [V, H] (the embedding when tied) and the final norm's weight [H].
  Tensor embed_matrix() const;
  Tensor head_matrix() const;
  Tensor final_norm_weight() const;
  // Bytes of one decoder layer in fp32 (what layer() allocates).
  int64_t layer_f32_bytes() const;

 private:
  const Checkpoint* ckpt_ = nullptr;
  const Model* model_ = nullptr;
  ModelConfig config_;
  Tensor final_norm_;
  std::string embed_name_, head_name_;
  std::shared_ptr<const Rotation> down_rotation_, o_rotation_;
};

}  // namespace loaq
