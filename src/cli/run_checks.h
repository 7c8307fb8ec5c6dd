#pragma once
// Checks of a run that the commands share: warnings about settings that work but mislead, and the
// refusal of a non-finite evaluation result (a NaN perplexity is an error, never a number).
#include <cstdint>
#include <string>
#include <vector>

#include "eval/ppl_suite.h"
#include "eval/zeroshot.h"
#include "model/model.h"
#include "model/source.h"

namespace loaq::cli {

// Warns (stderr) when `group` > 0 does not divide the input dimension of some linears: their last
// group is ragged, as in the GPTQ reference; `loaq export --format gptq` refuses such a model.
void warn_ragged_groups(const ModelConfig& c, int64_t group);

// Warns when windows of `seqlen` tokens run past the model's max_position_embeddings (positions
// it was not trained on), as transformers does.
void warn_long_windows(const ModelConfig& c, int64_t seqlen, const std::string& model_dir);

// Throws loaq::Error when a perplexity is not finite, naming the dataset, the first window whose
// loss is not finite, and the first stage of the forward pass (embedding, decoder layer ℓ, final
// norm, head) that produced a non-finite value on that window.
void check_finite_ppl(const ModelSource& m, const std::vector<EvalStream>& streams,
                      const std::vector<PplSuiteResult>& res, int64_t seqlen,
                      const std::string& model_dir);

// Throws loaq::Error when a zero-shot log-likelihood is not finite, naming the task and example.
void check_finite_scores(const std::vector<TaskResult>& res, const std::string& model_dir);

}  // namespace loaq::cli
