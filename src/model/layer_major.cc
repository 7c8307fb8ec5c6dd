#include "model/layer_major.h"

#include <algorithm>

namespace loaq {

void forward_layer_major(const ModelSource& src, std::vector<ForwardBatch>& batches,
                         const std::function<void(int64_t)>& on_layer) {
  int64_t n_pos = 0;
  for (const auto& b : batches) n_pos = std::max(n_pos, b.layout.n_positions());
  const RopeTable rope = make_rope_table(src.config(), n_pos);
  for (int64_t l = 0; l < src.num_layers(); ++l) {
    const auto w = src.layer(l);
    for (auto& b : batches) decoder_layer(src.config(), *w, rope, b.layout, b.hidden);
    if (on_layer) on_layer(l);
  }
}

}  // namespace loaq
