#pragma once
// Zero-shot multiple-choice scoring as lm-evaluation-harness v0.4 does it (HFLM loglikelihood,
// shared/golden/zeroshot/README.md): per choice, the summed log-probability of the continuation's
// tokens given the context; acc = argmax of the log-likelihoods, acc_norm = argmax of the
// log-likelihood divided by the choice's length in characters.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eval/zeroshot_tasks.h"
#include "model/source.h"
#include "text/tokenizer.h"

namespace loaq {

struct ZeroshotOptions {
  bool bos = true;              // prepend BOS (the tokenizer adds it and --no-bos is not given)
  int64_t max_length = 0;       // model context; 0: config max_position_embeddings (else 2048)
  int64_t batch_tokens = 4096;  // examples are packed into forward batches of about this many rows
  // Hidden states held at once: batches run layer-major in groups of about this many bytes.
  int64_t hidden_bytes = int64_t(1) << 30;
  bool progress = true;
};

// The harness's pair encoding (TemplateLM._encode_pair): trailing whitespace of the context moves
// to the front of the continuation; whole = enc(context + continuation), ctx = enc(context),
// continuation = whole[len(ctx):]. With `bos`, both encodings start with BOS (so ctx does). An
// empty context becomes [BOS] and the continuation is encoded alone (the harness's
// prefix_token_id rule). Throws when the continuation encodes to no token.
struct EncodedPair {
  std::vector<int32_t> context, continuation;
};
EncodedPair encode_pair(const Tokenizer& tok, std::string_view context,
                        std::string_view continuation, bool bos);

struct ChoiceScore {
  double loglik = 0;       // Σ log softmax(logits)[token] over the continuation tokens
  bool is_greedy = false;  // every continuation token is the argmax of its logits
  int64_t n_tokens = 0;    // continuation tokens scored
};

struct ExampleScore {
  std::vector<ChoiceScore> choices;
  int64_t pred = 0;        // argmax of loglik (first on ties, as np.argmax)
  int64_t pred_norm = -1;  // argmax of loglik / len(choice) in characters; -1 without acc_norm
};

// Scores every example of the task. The model input of a choice is (ctx + continuation) left-
// truncated to max_length + 1 tokens, without its last token; the choices of one example are run
// as one prefix tree (their shared tokens once), examples are packed into batches.
std::vector<ExampleScore> score_task(const ModelSource& m, const Tokenizer& tok, const McTask& task,
                                     const ZeroshotOptions& o);

// The harness's aggregation: mean and its standard error with the sample standard deviation
// (ddof 1): sqrt(Σ(x − mean)² / (n − 1)) / sqrt(n) (lm_eval/api/metrics.py mean_stderr); NaN for
// n < 2.
struct MeanStderr {
  double mean = 0, se = 0;  // se: standard error of the mean
};
MeanStderr mean_stderr(std::span<const double> x);

// Number of Unicode characters of a UTF-8 string (Python len()).
int64_t char_count(std::string_view s);

struct TaskResult {
  std::string name, file;
  bool has_acc_norm = true;
  int64_t n = 0, skipped = 0;
  double acc = 0, acc_stderr = 0, acc_norm = 0, acc_norm_stderr = 0;  // norm: NaN when absent
  double seconds = 0;
  std::vector<ExampleScore> scores;
};

// Scores the task and aggregates acc / acc_norm.
TaskResult evaluate_task(const ModelSource& m, const Tokenizer& tok, const McTask& task,
                         const ZeroshotOptions& o);

// The paper's "Acc": the mean over the tasks of acc_norm for arc_challenge and hellaswag and acc
// for the others (arc_easy, piqa, winogrande).
double paper_acc_avg(const std::vector<TaskResult>& res);
// The metric paper_acc_avg() takes from a task: "acc_norm" or "acc".
std::string paper_acc_metric(const std::string& task);

// Adds "tasks": {name: {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr", "n", "skipped", ...}},
// "acc_avg" (paper_acc_avg), "acc_avg_definition", and "acc_mean" (the plain mean of acc) to `out`.
// NaN values are written as null.
void add_zeroshot_json(nlohmann::ordered_json& out, const std::vector<TaskResult>& res);

// Every scored example as one JSON line, as lm-evaluation-harness's --log_samples records them:
// {"task", "doc_id" (0-based record of the data file), "line", "target" (gold choice), "resps":
// [[loglik, is_greedy], ...] per choice, "n_tokens" per choice, "pred", "pred_norm" (null
// without acc_norm), "acc", "acc_norm" (null without)}. res[i] holds the scores of tasks[i].
std::string zeroshot_samples_jsonl(const std::vector<McTask>& tasks,
                                   const std::vector<TaskResult>& res);

// A table of the results, the "Acc" average and its definition.
std::string zeroshot_table(const std::vector<TaskResult>& res);

}  // namespace loaq
