#include "cli/run_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "core/error.h"
#include "model/rope.h"

namespace loaq::cli {

namespace {

bool all_finite(const Tensor& t) {
  return std::all_of(t.data.begin(), t.data.end(), [](float v) { return std::isfinite(v); });
}

// The first stage of the forward pass that gives a non-finite value on `ids` (one window).
std::string first_non_finite_stage(const ModelSource& m, std::span<const int32_t> ids) {
  const Layout s(1, int64_t(ids.size()));
  Tensor h = m.embed(ids);
  if (!all_finite(h)) return "the token embeddings";
  const RopeTable rope = make_rope_table(m.config(), int64_t(ids.size()));
  for (int64_t l = 0; l < m.num_layers(); ++l) {
    decoder_layer(m.config(), *m.layer(l), rope, s, h);
    if (!all_finite(h)) return fmt::format("the output of decoder layer {}", l);
  }
  const Tensor n = m.final_norm(h);
  if (!all_finite(n)) return "the final norm";
  Tensor logits({n.rows(), m.vocab()});
  m.head_logits(n.ptr(), n.rows(), logits.ptr());
  if (!all_finite(logits)) return "the head's logits";
  return "no stage on a second run (the loss itself)";
}

}  // namespace

void warn_ragged_groups(const ModelConfig& c, int64_t group) {
  if (group <= 0) return;
  const std::pair<const char*, int64_t> inputs[] = {
      {"q_proj, k_proj, v_proj, gate_proj, up_proj", c.hidden_size},
      {"o_proj", c.q_dim()},
      {"down_proj", c.intermediate_size}};
  for (const auto& [names, in] : inputs)
    if (in % group != 0)
      fmt::print(stderr,
                 "loaq: warning: --group {} does not divide the input dimension {} of {} (every "
                 "layer): the last group has {} columns, as in the GPTQ reference; `loaq export "
                 "--format gptq` refuses such a model\n",
                 group, in, names, in % group);
}

void warn_long_windows(const ModelConfig& c, int64_t seqlen, const std::string& model_dir) {
  if (seqlen > c.max_position_embeddings)
    fmt::print(stderr,
               "loaq: warning: --seqlen {} exceeds max_position_embeddings {} of {}: positions "
               "beyond it were never trained, results may be meaningless\n",
               seqlen, c.max_position_embeddings, model_dir);
}

void check_finite_ppl(const ModelSource& m, const std::vector<EvalStream>& streams,
                      const std::vector<PplSuiteResult>& res, int64_t seqlen,
                      const std::string& model_dir) {
  for (const auto& p : res) {
    if (std::isfinite(p.r.ppl)) continue;
    std::string where = "";
    const auto w = std::find_if(p.r.window_nll.begin(), p.r.window_nll.end(),
                                [](double v) { return !std::isfinite(v); });
    const auto st = std::find_if(streams.begin(), streams.end(),
                                 [&](const EvalStream& e) { return e.name == p.name; });
    if (w != p.r.window_nll.end() && st != streams.end()) {
      const int64_t k = int64_t(w - p.r.window_nll.begin());
      const std::span<const int32_t> ids(st->ids.data() + k * seqlen, size_t(seqlen));
      where = fmt::format(
          " window {} (tokens {}–{}) first has a non-finite loss; on it, {} is the "
          "first non-finite value.",
          k, k * seqlen, (k + 1) * seqlen - 1, first_non_finite_stage(m, ids));
    }
    fail(
        "{}: perplexity on {} is {}:{} The weights or config.json of the model make its forward "
        "pass overflow (`loaq inspect {}` checks them)",
        model_dir, p.name, p.r.ppl, where, model_dir);
  }
}

void check_finite_scores(const std::vector<TaskResult>& res, const std::string& model_dir) {
  for (const auto& t : res)
    for (size_t i = 0; i < t.scores.size(); ++i)
      for (size_t c = 0; c < t.scores[i].choices.size(); ++c)
        if (!std::isfinite(t.scores[i].choices[c].loglik))
          fail(
              "{}: {} example {} choice {}: log-likelihood {}: the weights or config.json of the "
              "model make its forward pass overflow (`loaq inspect {}` checks them)",
              model_dir, t.name, i, c, t.scores[i].choices[c].loglik, model_dir);
}

}  // namespace loaq::cli
