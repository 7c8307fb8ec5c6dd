#include "model/source.h"

#include <algorithm>
#include <cmath>

#include "core/blas.h"
#include "core/error.h"
#include "model/ops.h"

namespace loaq {

ModelSource::ModelSource(const Checkpoint& ckpt) : ckpt_(&ckpt), config_(ckpt.config()) {
  const auto& c = config_;
  embed_name_ = "model.embed_tokens.weight";
  head_name_ = c.tie_word_embeddings ? embed_name_ : "lm_head.weight";
  for (const auto& n : {embed_name_, head_name_}) {
    const auto& t = ckpt.info(n);
    if (t.shape != std::vector<int64_t>{c.vocab_size, c.hidden_size})
      fail("{}: tensor '{}' has shape {} but config.json implies [{}, {}]",
           ckpt.file_of(n).path(), n, shape_str(t.shape), c.vocab_size, c.hidden_size);
    if (!is_float(t.dtype))
      fail("{}: tensor '{}' has dtype {}, expected a float type", ckpt.file_of(n).path(), n,
           dtype_name(t.dtype));
  }
  final_norm_ = ckpt.load_f32("model.norm.weight", {c.hidden_size});
  if (c.loaq.online_down)
    down_rotation_ = std::make_shared<const Rotation>(
        hadamard_transform(c.intermediate_size, c.loaq.rotate_seed));
  if (c.loaq.online_o)
    o_rotation_ =
        std::make_shared<const Rotation>(hadamard_transform(c.num_heads, c.loaq.rotate_seed));
}

ModelSource::ModelSource(const Model& m) : model_(&m), config_(m.config) {}

std::shared_ptr<const LayerWeights> ModelSource::layer(int64_t i) const {
  if (i < 0 || i >= config_.num_layers)
    fail("layer index {} out of range [0, {})", i, config_.num_layers);
  if (model_)  // a view: no copy
    return std::shared_ptr<const LayerWeights>(std::shared_ptr<const Model>(), &model_->weights.layers[size_t(i)]);
  auto w = std::make_shared<LayerWeights>(load_layer(*ckpt_, i));
  w->down_rotation = down_rotation_;
  w->o_rotation = o_rotation_;
  w->act = ActQuant{config_.loaq.act_bits, float(config_.loaq.act_clip)};
  return w;
}

Tensor ModelSource::embed(std::span<const int32_t> ids) const {
  if (model_) return loaq::embed(*model_, ids);
  const int64_t H = config_.hidden_size, V = config_.vocab_size;
  const SafetensorsFile& f = ckpt_->file_of(embed_name_);
  const TensorInfo& t = ckpt_->info(embed_name_);
  const std::byte* base = f.bytes(t).data();
  const size_t row_bytes = size_t(H) * dtype_size(t.dtype);
  Tensor h({int64_t(ids.size()), H});
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= V)
      fail("token id {} at position {} is outside the vocabulary [0, {})", ids[i], i, V);
    float* dst = h.row(int64_t(i));
    convert_to_f32(t.dtype, base + size_t(ids[i]) * row_bytes, size_t(H), dst);
    for (int64_t j = 0; j < H; ++j)
      if (!std::isfinite(dst[j]))
        fail("{}: tensor '{}' has a non-finite value in row {}", f.path(), embed_name_, ids[i]);
  }
  return h;
}

Tensor ModelSource::final_norm(const Tensor& hidden) const {
  if (model_) return loaq::final_norm(*model_, hidden);
  return rms_norm(hidden, final_norm_, config_.rms_norm_eps);
}

void ModelSource::head_logits(const float* x, int64_t rows, float* out) const {
  if (model_) return loaq::head_logits(*model_, x, rows, out);
  const int64_t H = config_.hidden_size, V = config_.vocab_size;
  const SafetensorsFile& f = ckpt_->file_of(head_name_);
  const TensorInfo& t = ckpt_->info(head_name_);
  const std::byte* base = f.bytes(t).data();
  if (t.dtype == DType::F32 && reinterpret_cast<uintptr_t>(base) % alignof(float) == 0) {
    linear(x, rows, H, reinterpret_cast<const float*>(base), V, out);  // the mapped head itself
    return;
  }
  // Blocks of head rows converted to fp32 (the head is never converted whole).
  constexpr int64_t kBlock = 4096;
  std::vector<float> w(size_t(std::min(kBlock, V) * H));
  for (int64_t v0 = 0; v0 < V; v0 += kBlock) {
    const int64_t n = std::min(kBlock, V - v0);
    convert_to_f32(t.dtype, base + size_t(v0 * H) * dtype_size(t.dtype), size_t(n * H), w.data());
    for (int64_t i = 0; i < n * H; ++i)
      if (!std::isfinite(w[size_t(i)]))
        fail("{}: tensor '{}' has a non-finite value in row {}", f.path(), head_name_,
             v0 + i / H);
    gemm(false, true, rows, n, H, 1.0f, x, H, w.data(), H, 0.0f, out + v0, V);
  }
}

Tensor ModelSource::embed_matrix() const {
  if (model_) return model_->weights.embed;
  return ckpt_->load_f32(embed_name_);
}

Tensor ModelSource::head_matrix() const {
  if (model_) return model_->weights.head();
  return ckpt_->load_f32(head_name_);
}

Tensor ModelSource::final_norm_weight() const {
  return model_ ? model_->weights.final_norm : final_norm_;
}

int64_t ModelSource::layer_f32_bytes() const {
  const auto& c = config_;
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  int64_t n = 2 * H + (c.q_dim() + 2 * c.kv_dim()) * H + H * c.q_dim() + 3 * H * I;
  if (c.qkv_bias) n += c.q_dim() + 2 * c.kv_dim();
  if (c.qk_norm) n += 2 * c.head_dim;
  return n * int64_t(sizeof(float));
}

}  // namespace loaq
