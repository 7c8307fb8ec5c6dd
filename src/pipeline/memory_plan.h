#pragma once
// The memory a run will hold at its peak, term by term (DESIGN.md "Memory model"), printed before
// any heavy work and checked against --max-memory. The terms are what the code allocates, counted
// from the shapes: the streams, one decoder layer in fp32 (its original, its quantized copy and
// the int32 codes of its solved linears, or for `none` the copy being written), the fp64 statistics
// of the widest input, and the activations: the larger of one forward chunk's activations and the
// solver's workspace, which are never held at once (plus the cached W_out inputs when they are
// kept).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "io/model_config.h"
#include "pipeline/config.h"

namespace loaq {

struct MemoryPlan {
  int64_t streams = 0, layer = 0, stats = 0, activations = 0, total = 0;
  std::string dominant;  // the largest term
  std::string hint;      // the option that reduces it
};

// Per rank on `ranks` ranks (the rank holding the most windows).
MemoryPlan plan_quantize(const ModelConfig& c, const QuantizeConfig& cfg, int64_t windows,
                         int64_t seqlen, int ranks = 1);
// Evaluation: the hidden states of one group of windows (`hidden_bytes`), one layer, the
// activations of one batch and one window's logits.
MemoryPlan plan_eval(const ModelConfig& c, int64_t seqlen, int64_t batch_tokens,
                     int64_t hidden_bytes, int64_t windows);

std::string format_plan(const MemoryPlan& p);
nlohmann::ordered_json plan_json(const MemoryPlan& p);
// Throws when p.total > max_bytes (0: no limit), naming the dominant term and the option.
void check_plan(const MemoryPlan& p, int64_t max_bytes);

}  // namespace loaq
