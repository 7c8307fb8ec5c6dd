// `loaq eval`: perplexity of a checkpoint on WikiText-2 / C4 / PTB or a file (GPTQ protocol), and
// zero-shot accuracy on ARC-Easy/Challenge, PIQA, HellaSwag and WinoGrande (lm-evaluation-harness),
// and the per-sub-layer error against the full-precision original (--trace-mse, eval/trace_mse.h).
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/run_checks.h"
#include "core/env.h"
#include "core/error.h"
#include "dist/dist.h"
#include "dist/report.h"
#include "eval/ppl_suite.h"
#include "eval/trace_mse.h"
#include "eval/zeroshot.h"
#include "export/gguf_import.h"
#include "io/atomic_file.h"
#include "text/datasets.h"
#include "text/tokenizer.h"

namespace loaq::cli {

namespace {

struct EvalArgs {
  std::string model;
  std::string tokenizer;  // a GGUF --model: the Hugging Face directory whose tokenizer to use
  std::string ppl = "wikitext2,c4";
  bool ppl_given = false;  // --ppl on the command line (else only --tasks runs when given)
  std::string tasks;
  int64_t limit = 0;
  bool skip_bad = false;
  std::string data;  // default: <assets>/data
  int64_t seqlen = 2048;
  int64_t max_windows = 0;
  int64_t batch_tokens = 4096;
  bool no_bos = false;
  bool quiet = false;
  int threads = 0;
  std::string json;
  std::string log_samples;  // --log-samples: every scored example, one JSON line each
  std::string trace_ref;    // --trace-mse: the full-precision original
  std::string trace_data = "c4";
  int64_t trace_windows = 16;
  double trace_quantile = 0.999;
};

// Loads every task before any compute: a malformed record stops the run at once.
std::vector<McTask> load_tasks(const EvalArgs& a, const std::string& data) {
  TaskLoadOptions lo;
  lo.limit = a.limit;
  lo.skip_bad = a.skip_bad;
  std::vector<McTask> tasks;
  for (const auto& name : split_csv(a.tasks)) {
    for (const auto& t : tasks)
      if (t.name == name) fail("--tasks: '{}' is given twice", name);
    tasks.push_back(load_zeroshot_task(name, data, lo));
    const McTask& t = tasks.back();
    if (t.skipped > 0 && dist::is_root()) {
      fmt::print(stderr, "loaq: warning: {}: skipped {} malformed record(s) (--skip-bad)\n", t.file,
                 t.skipped);
      for (const auto& m : t.skip_messages) fmt::print(stderr, "  {}\n", m);
    }
  }
  return tasks;
}

int run_eval(const EvalArgs& a) {
  set_num_threads(a.threads);
  const std::string data = a.data.empty() ? default_assets_dir() + "/data" : a.data;
  // With --tasks or --trace-mse and no explicit --ppl, only they run.
  const bool only_others = !a.tasks.empty() || !a.trace_ref.empty();
  const auto datasets = !only_others || a.ppl_given ? split_csv(a.ppl) : std::vector<std::string>{};
  if (datasets.empty() && a.tasks.empty() && a.trace_ref.empty()) fail("--ppl: no dataset given");
  if (!a.trace_ref.empty() && dist::size() > 1)
    fail("--trace-mse runs in one process (it is not distributed): run it without mpirun");
  if (!a.trace_ref.empty() && is_gguf_file(a.model))
    fail("--trace-mse: --model {} is a GGUF file: trace the quantized directory instead", a.model);
  if (!a.tasks.empty() && split_csv(a.tasks).empty()) fail("--tasks: no task given");
  if (!a.log_samples.empty() && a.tasks.empty()) fail("--log-samples needs --tasks");
  const std::vector<McTask> tasks = load_tasks(a, data);

  // A GGUF file is dequantized into a resident model (export/gguf_import.h); a directory is
  // streamed, one decoder layer resident at a time.
  std::optional<Checkpoint> ckpt;
  std::optional<Model> gguf;
  if (is_gguf_file(a.model)) {
    if (a.tokenizer.empty())
      fail(
          "--model {} is a GGUF file: give --tokenizer DIR, the Hugging Face directory whose "
          "tokenizer it was exported with",
          a.model);
    gguf.emplace(load_gguf_model(a.model));
  } else {
    ckpt.emplace(a.model);
  }
  const ModelConfig& config = gguf ? gguf->config : ckpt->config();
  const auto tok = load_model_tokenizer(a.tokenizer.empty() ? a.model : a.tokenizer, config);
  // --seqlen is the window of the perplexities and of the trace; zero-shot uses the model's context.
  if (!datasets.empty() || !a.trace_ref.empty()) warn_long_windows(config, a.seqlen, a.model);
  const ModelSource model = gguf ? ModelSource(*gguf) : ModelSource(*ckpt);
  const bool bos = !a.no_bos && tok->add_bos;

  nlohmann::ordered_json out;
  out["model"] = a.model;
  out["settings"] = {{"seqlen", a.seqlen},
                     {"max_windows", a.max_windows},
                     {"bos", bos},
                     {"tokenizer", tok->source()},
                     {"protocol",
                      "GPTQ: whole text tokenized once, one BOS at the stream start when "
                      "the tokenizer adds one, non-overlapping windows, tail dropped"}};
  if (!a.tasks.empty())
    out["settings"]["zeroshot"] = {
        {"tasks", split_csv(a.tasks)},
        {"limit", a.limit},
        {"skip_bad", a.skip_bad},
        {"protocol",
         "lm-evaluation-harness v0.4 (hf backend, zero-shot): loglikelihood of each choice's "
         "continuation, pair encoding enc(context+continuation) minus enc(context), BOS in front "
         "of both when bos, acc = argmax loglik, acc_norm = argmax loglik / len(choice) in "
         "characters, stderr = sample std (ddof 1) / sqrt(n)"}};

  if (!datasets.empty()) {
    PplSuiteOptions po;
    po.datasets = datasets;
    po.data_dir = data;
    po.seqlen = a.seqlen;
    po.max_windows = a.max_windows;
    po.batch_tokens = a.batch_tokens;
    po.bos = bos;
    po.progress = !a.quiet;
    const auto streams = prepare_eval_streams(*tok, po);
    const auto res = run_ppl_suite(model, streams, po);
    check_finite_ppl(model, streams, res, po.seqlen, a.model);
    add_ppl_json(out, res);
    if (dist::is_root()) {
      fmt::print("{:<12} {:>12} {:>10} {:>10} {:>9}\n", "dataset", "ppl", "windows", "tokens",
                 "seconds");
      for (const auto& p : res)
        fmt::print("{:<12} {:>12.6g} {:>10} {:>10} {:>9.1f}\n", p.name, p.r.ppl, p.r.n_windows,
                   p.r.predicted_tokens, p.r.seconds);
    }
  }
  if (!a.tasks.empty()) {
    ZeroshotOptions zo;
    zo.bos = bos;
    zo.batch_tokens = a.batch_tokens;
    zo.progress = !a.quiet;
    std::vector<TaskResult> res;
    for (const auto& t : tasks) res.push_back(evaluate_task(model, *tok, t, zo));
    check_finite_scores(res, a.model);
    add_zeroshot_json(out, res);
    if (!a.log_samples.empty() && dist::is_root())
      write_file_atomic(a.log_samples, zeroshot_samples_jsonl(tasks, res));
    if (dist::is_root()) fmt::print("{}{}", datasets.empty() ? "" : "\n", zeroshot_table(res));
  }
  if (!a.trace_ref.empty()) {
    const Checkpoint ref(a.trace_ref);
    PplSuiteOptions po;
    po.datasets = {a.trace_data};
    po.data_dir = data;
    po.seqlen = a.seqlen;
    po.bos = bos;
    const auto streams = prepare_eval_streams(*tok, po);
    TraceOptions to;
    to.seqlen = a.seqlen;
    to.windows = a.trace_windows;
    to.batch_tokens = a.batch_tokens;
    to.outlier_quantile = a.trace_quantile;
    to.progress = !a.quiet;
    const auto rows = trace_sublayer_mse(ModelSource(ref), model, streams[0].ids, to);
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& r : rows)
      list.push_back({{"layer", r.layer},
                      {"sublayer", r.sublayer},
                      {"mse", r.mse},
                      {"mse_norm", r.mse_norm},
                      {"mse_all", r.mse_all},
                      {"mse_norm_all", r.mse_norm_all},
                      {"tokens", r.tokens},
                      {"outliers", r.outliers}});
    out["trace_mse"] = {
        {"reference", a.trace_ref},
        {"dataset", a.trace_data},
        {"windows", std::min<int64_t>(a.trace_windows, int64_t(streams[0].ids.size()) / a.seqlen)},
        {"seqlen", a.seqlen},
        {"outlier_quantile", a.trace_quantile},
        {"rule",
         "after each sub-layer, MSE of the hidden states over the tokens whose full-precision "
         "norm is at most the outlier_quantile (nearest rank) of that sub-layer's norms; mse_norm "
         "after x / sqrt(mean(x^2) + eps) (RMSNorm without its weight); *_all: every token"},
        {"sublayers", list}};
    if (dist::is_root()) {
      fmt::print("{}{:<6} {:<5} {:>12} {:>12} {:>12} {:>9}\n",
                 datasets.empty() && a.tasks.empty() ? "" : "\n", "layer", "sub", "mse", "mse_norm",
                 "mse_all", "outliers");
      for (const auto& r : rows)
        fmt::print("{:<6} {:<5} {:>12.5g} {:>12.5g} {:>12.5g} {:>9}\n", r.layer, r.sublayer, r.mse,
                   r.mse_norm, r.mse_all, r.outliers);
    }
  }
  out["distributed"] = dist::report_json();  // a collective: every rank calls it
  if (!a.json.empty() && dist::is_root()) write_file_atomic(a.json, out.dump(2) + "\n");
  return 0;
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand(
      "eval",
      "Perplexity (GPTQ protocol) and zero-shot accuracy (lm-evaluation-harness) of a checkpoint");
  cmd->add_option("--model", a->model, "Hugging Face model directory, or a GGUF file")->required();
  cmd->add_option("--tokenizer", a->tokenizer,
                  "With a GGUF --model: the Hugging Face directory of its tokenizer");
  auto* ppl = cmd->add_option("--ppl", a->ppl,
                              "Comma-separated: wikitext2, c4, ptb, or paths of text/jsonl files "
                              "(not run by default when --tasks is given)")
                  ->capture_default_str();
  cmd->add_option("--tasks", a->tasks,
                  "Zero-shot tasks, comma-separated: arc_easy, arc_challenge, piqa, hellaswag, "
                  "winogrande");
  cmd->add_option("--limit", a->limit, "Zero-shot: only the first N examples of each task (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--log-samples", a->log_samples,
                  "Zero-shot: write every scored example to this file, one JSON line each "
                  "(lm-evaluation-harness --log_samples: per choice [loglik, is_greedy])");
  cmd->add_flag("--skip-bad", a->skip_bad,
                "Zero-shot: skip (and count) malformed records instead of stopping");
  cmd->add_option("--seqlen", a->seqlen, "Window length in tokens")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--max-windows", a->max_windows, "Evaluate only the first K windows (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-tokens", a->batch_tokens, "Tokens per forward batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--data", a->data, "Datasets folder (default: $LOAQ_ASSETS/data)");
  cmd->add_flag("--no-bos", a->no_bos,
                "Do not prepend BOS (perplexity stream, zero-shot requests)");
  cmd->add_option("--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("--json", a->json, "Write the results as JSON to this file");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress bar");
  cmd->add_option("--trace-mse", a->trace_ref,
                  "The full-precision model --model was quantized from: the MSE of the hidden "
                  "states after every sub-layer against it (LoaQ paper, Figures 3 and 4)");
  cmd->add_option("--trace-data", a->trace_data,
                  "--trace-mse: the held-out stream (a --ppl dataset name or file)")
      ->capture_default_str();
  cmd->add_option("--trace-windows", a->trace_windows,
                  "--trace-mse: its first N windows of --seqlen tokens (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--trace-outlier-quantile", a->trace_quantile,
                  "--trace-mse: tokens whose full-precision norm is above this quantile are "
                  "outliers (excluded from mse, kept in mse_all)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  return [a, ppl] {
    a->ppl_given = ppl->count() > 0;
    return run_eval(*a);
  };
}

}  // namespace loaq::cli
