#include "eval/ppl_suite.h"

#include "text/datasets.h"

namespace loaq {

std::vector<EvalStream> prepare_eval_streams(const Tokenizer& tok, const PplSuiteOptions& o) {
  std::vector<EvalStream> out;
  for (const auto& name : o.datasets) {
    const EvalDataset d = load_eval_dataset(name, o.data_dir);
    // The golden protocol: one BOS in front of the whole stream when the tokenizer adds BOS, and
    // nothing else (no EOS even if a tokenizer.json template would append one).
    EvalStream s{name, d.path, 0, tok.encode(d.text)};
    if (o.bos && tok.add_bos && tok.bos_id) s.ids.insert(s.ids.begin(), *tok.bos_id);
    s.n_tokens_encoded = int64_t(s.ids.size());
    if (d.windows_cap && int64_t(s.ids.size()) > *d.windows_cap * o.seqlen)
      s.ids.resize(size_t(*d.windows_cap * o.seqlen));
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<PplSuiteResult> run_ppl_suite(const ModelSource& m, const std::vector<EvalStream>& streams,
                                          const PplSuiteOptions& o) {
  std::vector<PplSuiteResult> out;
  for (const auto& s : streams) {
    PplOptions po;
    po.seqlen = o.seqlen;
    po.max_windows = o.max_windows;
    po.batch_tokens = o.batch_tokens;
    po.hidden_bytes = o.hidden_bytes;
    po.progress = o.progress;
    po.label = s.name;
    out.push_back({s.name, s.file, s.n_tokens_encoded, perplexity(m, s.ids, po)});
  }
  return out;
}

void add_ppl_json(nlohmann::ordered_json& out, const std::vector<PplSuiteResult>& res) {
  if (!out.contains("ppl")) out["ppl"] = nlohmann::ordered_json::object();
  if (!out.contains("details")) out["details"] = nlohmann::ordered_json::object();
  for (const auto& p : res) {
    out["ppl"][p.name] = p.r.ppl;
    out["details"][p.name] = {{"file", p.file},
                              {"n_tokens_encoded", p.n_tokens_encoded},
                              {"tokens_after_cap", p.r.n_tokens},
                              {"n_windows", p.r.n_windows},
                              {"n_windows_available", p.r.n_windows_available},
                              {"predicted_tokens", p.r.predicted_tokens},
                              {"mean_nll", p.r.mean_nll},
                              {"seconds", p.r.seconds}};
  }
}

}  // namespace loaq
