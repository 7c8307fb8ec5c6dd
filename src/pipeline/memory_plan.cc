#include "pipeline/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/error.h"
#include "pipeline/methods.h"
#include "pipeline/stats.h"
#include "pipeline/streams.h"

namespace loaq {

namespace {

int64_t layer_params(const ModelConfig& c) {
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  int64_t n = 2 * H + (c.q_dim() + 2 * c.kv_dim()) * H + H * c.q_dim() + 3 * H * I;
  if (c.qkv_bias) n += c.q_dim() + 2 * c.kv_dim();
  if (c.qk_norm) n += 2 * c.head_dim;
  return n;
}

std::string gib(int64_t b) {
  return fmt::format("{:.2f} GiB", double(b) / double(1LL << 30));
}

void finish(MemoryPlan& p, const std::array<std::string, 4>& hints) {
  p.total = p.streams + p.layer + p.stats + p.activations;
  const std::array<std::pair<const char*, int64_t>, 4> terms = {{{"streams", p.streams},
                                                                 {"layer", p.layer},
                                                                 {"stats", p.stats},
                                                                 {"activations", p.activations}}};
  size_t best = 0;
  for (size_t i = 1; i < terms.size(); ++i)
    if (terms[i].second > terms[best].second) best = i;
  p.dominant = terms[best].first;
  p.hint = hints[best];
}

}  // namespace

MemoryPlan plan_quantize(const ModelConfig& c, const QuantizeConfig& cfg, int64_t all_windows,
                         int64_t seqlen, int ranks) {
  const MethodInfo& m = method_info(cfg.method);
  const bool data = method_needs_calibration(cfg);
  const bool fp = data && m.fp_stream;
  const int64_t H = c.hidden_size, I = c.intermediate_size, Q = c.q_dim();
  const int64_t f = int64_t(sizeof(float)), d = int64_t(sizeof(double));
  // The windows of the rank with the most (rank 0: the first ranges are the longer ones).
  const int64_t chunk = std::max<int64_t>(1, cfg.chunk_samples);
  const int64_t n_chunks = (all_windows + chunk - 1) / chunk;
  const int64_t windows =
      std::min(all_windows, (n_chunks + ranks - 1) / std::max(1, ranks) * chunk);
  MemoryPlan p;
  if (data) p.streams = Stream::bytes_for(cfg.stream_dtype, windows, seqlen, H) * (fp ? 2 : 1);
  // The original (FP targets) and the quantized copy, and a third: the solved linears' integer
  // codes (int32, until the layer is written; their weights are written as that state,
  // pipeline/output.h), or for `none` the layer's tensors being encoded for the output.
  p.layer = layer_params(c) * f * 3;
  if (data) {
    // The widest input is down_proj's (or o_proj's): its sums H (and C), and S for LoaQ.
    const int64_t N = std::max({H, Q, I});
    const int64_t M = N == I ? H : std::max(H, Q);
    const bool soa = m.sublayer_term && cfg.loaq.soa;
    p.stats = Stats::bytes_for(N, H, fp, soa);
    // The solver's workspace, held only while the chunks' activations are not: the inverse-Cholesky
    // factor (N²), GPTAQ's Cᵀ, Qronos' G and its own solve, LoaQ's solve of the target, each N² in
    // fp64; the target, codes and dequantized weight of the linear (M·N floats/ints).
    int64_t work = 1;
    if (cfg.method == Method::kGptaq) work = 2;
    if (cfg.method == Method::kQronos) work = 3;
    if (cfg.method == Method::kLoaq) work = 2;
    const int64_t solver = work * N * N * d + M * N * (3 * f);
    // One chunk of the down_proj statistics, per row: in each stream the hidden state kept (H) and
    // the W_out input (I), plus the transients of one stream's MLP (the normed input, gate and up:
    // H + 2I); with the FP stream, LoaQ's two W_out outputs and target (3H).
    const int64_t rows = std::min(cfg.chunk_samples, windows) * seqlen;
    int64_t chunk = rows * ((H + I) * (fp ? 2 : 1) + H + 2 * I + (soa ? 3 * H : 0)) * f;
    // On several ranks the statistics' inputs of all of a rank's chunks are kept until the chained
    // sum (pipeline/ranks.h): X̂, X − X̂ and LoaQ's target of the widest input.
    if (ranks > 1) chunk += f * windows * seqlen * (N * (fp ? 2 : 1) + (soa ? H : 0));
    // The activations term: the larger of the chunk's activations and the solver's workspace (they
    // are not held at once), plus the W_out inputs of every chunk when they are cached
    // (QuantizeConfig::cache_bytes) for the streams' advance.
    p.activations = std::max(chunk, solver);
    const int64_t cache = f * windows * seqlen * std::max(Q, I) * (fp ? 2 : 1);
    if (cache <= cfg.cache_bytes) p.activations += cache;
  } else {
    p.stats = 0;
    p.activations = std::max(H, I) * std::max(H, I) * (2 * f);
  }
  finish(p, {"--stream-dtype bf16 or fewer --nsamples", "(one decoder layer is the minimum)",
             "(the statistics of the widest input are the minimum)",
             "a smaller --chunk-samples or --cache-bytes 0"});
  return p;
}

MemoryPlan plan_eval(const ModelConfig& c, int64_t seqlen, int64_t batch_tokens,
                     int64_t hidden_bytes, int64_t windows) {
  const int64_t H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const int64_t f = int64_t(sizeof(float));
  MemoryPlan p;
  const int64_t per_batch = std::max<int64_t>(1, batch_tokens / seqlen);
  const int64_t window_bytes = seqlen * H * f;
  const int64_t per_group =
      std::max<int64_t>(1, hidden_bytes / (window_bytes * per_batch)) * per_batch;
  p.streams = std::min(per_group, std::max<int64_t>(windows, 1)) * window_bytes;
  p.layer = layer_params(c) * f;
  const int64_t rows = per_batch * seqlen;
  p.activations =
      rows * (3 * H + 3 * I + c.q_dim() + 2 * c.kv_dim()) * f + seqlen * V * f + 4096 * H * f;
  finish(p, {"a smaller --hidden-bytes (the windows held at once)", "(one decoder layer)", "",
             "a smaller --batch-tokens or --seqlen"});
  return p;
}

std::string format_plan(const MemoryPlan& p) {
  return fmt::format(
      "memory plan: streams {} + layer {} + statistics {} + activations {} = {} (largest: {})",
      gib(p.streams), gib(p.layer), gib(p.stats), gib(p.activations), gib(p.total), p.dominant);
}

nlohmann::ordered_json plan_json(const MemoryPlan& p) {
  return {{"streams", p.streams},
          {"layer", p.layer},
          {"stats", p.stats},
          {"activations", p.activations},
          {"total", p.total}};
}

void check_plan(const MemoryPlan& p, int64_t max_bytes) {
  if (max_bytes <= 0 || p.total <= max_bytes) return;
  fail("the memory plan needs {} but --max-memory is {}; the largest term is the {} ({}): {}",
       gib(p.total), gib(max_bytes), p.dominant,
       gib(p.dominant == "streams" ? p.streams
           : p.dominant == "layer" ? p.layer
           : p.dominant == "stats" ? p.stats
                                   : p.activations),
       p.hint.empty() ? "no option reduces it" : "reduce it with " + p.hint);
}

}  // namespace loaq
