#include "model/model.h"

#include <algorithm>

#include "core/blas.h"
#include "core/error.h"
#include "model/ops.h"

namespace loaq {

Model load_model(const Checkpoint& ckpt) {
  Model m{ckpt.config(), load_weights(ckpt)};
  const ActQuant act{m.config.loaq.act_bits, float(m.config.loaq.act_clip)};
  for (auto& layer : m.weights.layers) layer.act = act;
  return m;
}

Model load_model(const std::string& dir) {
  return load_model(Checkpoint(dir));
}

Tensor embed(const Model& m, std::span<const int32_t> ids) {
  const int64_t H = m.config.hidden_size, V = m.weights.embed.rows();
  Tensor h({int64_t(ids.size()), H});
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= V)
      fail("token id {} at position {} is outside the vocabulary [0, {})", ids[i], i, V);
    std::copy_n(m.weights.embed.row(ids[i]), H, h.row(int64_t(i)));
  }
  return h;
}

void forward_layers(const Model& m, BatchShape s, Tensor& hidden) {
  const RopeTable rope = make_rope_table(m.config, s.seq);
  for (const auto& layer : m.weights.layers) decoder_layer(m.config, layer, rope, s, hidden);
}

Tensor final_norm(const Model& m, const Tensor& hidden) {
  return rms_norm(hidden, m.weights.final_norm, m.config.rms_norm_eps);
}

void head_logits(const Model& m, const float* x, int64_t rows, float* out) {
  const Tensor& head = m.weights.head();
  linear(x, rows, head.cols(), head.ptr(), head.rows(), out);
}

Tensor final_logits(const Model& m, const Tensor& hidden) {
  const Tensor x = final_norm(m, hidden);
  Tensor logits({x.rows(), m.weights.head().rows()});
  head_logits(m, x.ptr(), x.rows(), logits.ptr());
  return logits;
}

Tensor forward(const Model& m, std::span<const int32_t> ids, BatchShape s) {
  if (int64_t(ids.size()) != s.batch * s.seq)
    fail("forward: {} ids for a batch of {}×{}", ids.size(), s.batch, s.seq);
  Tensor h = embed(m, ids);
  forward_layers(m, s, h);
  return final_logits(m, h);
}

}  // namespace loaq
