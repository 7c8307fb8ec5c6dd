#pragma once
// Perplexity on a list of named datasets (wikitext2, c4, ptb, or files), tokenized once each:
// what `loaq eval`, `loaq quantize --eval` and `loaq sweep` share.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/perplexity.h"
#include "text/tokenizer.h"

namespace loaq {

struct PplSuiteOptions {
  std::vector<std::string> datasets;
  std::string data_dir;
  int64_t seqlen = 2048;
  int64_t max_windows = 0;
  int64_t batch_tokens = 4096;
  int64_t hidden_bytes = int64_t(4) << 30;  // PplOptions::hidden_bytes
  bool bos = true;  // prepend BOS to each stream when the tokenizer adds one
  bool progress = true;
};

// A dataset's token stream as evaluated (BOS rule and C4 cap applied).
struct EvalStream {
  std::string name, file;
  int64_t n_tokens_encoded = 0;
  std::vector<int32_t> ids;
};

std::vector<EvalStream> prepare_eval_streams(const Tokenizer& tok, const PplSuiteOptions& o);

struct PplSuiteResult {
  std::string name, file;
  int64_t n_tokens_encoded = 0;
  PplResult r;
};

std::vector<PplSuiteResult> run_ppl_suite(const ModelSource& m, const std::vector<EvalStream>& streams,
                                          const PplSuiteOptions& o);

// {"ppl": {name: value}, "details": {name: {...}}} merged into `out`.
void add_ppl_json(nlohmann::ordered_json& out, const std::vector<PplSuiteResult>& res);

}  // namespace loaq
