#include "model/tree_forward.h"

#include "core/error.h"

namespace loaq {

Tensor tree_forward_hidden(const Model& m, const PrefixTree& t) {
  if (t.rows() == 0) fail("tree_forward: empty batch");
  const Layout layout(t);
  const RopeTable rope = make_rope_table(m.config, layout.n_positions());
  Tensor h = embed(m, t.ids);
  for (const auto& layer : m.weights.layers) decoder_layer(m.config, layer, rope, layout, h);
  return h;
}

}  // namespace loaq
