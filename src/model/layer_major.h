#pragma once
// The decoder run layer-major (GPTQ's llama_eval): every batch of a group through layer ℓ, then
// all of them through ℓ + 1, so that only one decoder layer is resident (ModelSource::layer) next
// to the hidden states of the group. Each batch sees exactly the operations a batch-at-a-time
// forward gives it, so the results are the same bits.
#include <functional>
#include <vector>

#include "model/decoder_layer.h"
#include "model/source.h"

namespace loaq {

struct ForwardBatch {
  Layout layout;
  Tensor hidden;  // [rows, H]: the embeddings in, the last layer's output (before the final norm) out
};

// Runs every layer of `src` on every batch, layer-major. `on_layer` (optional) is called after
// each layer with its index.
void forward_layer_major(const ModelSource& src, std::vector<ForwardBatch>& batches,
                         const std::function<void(int64_t)>& on_layer = {});

}  // namespace loaq
