// `loaq eval`: perplexity of a checkpoint on WikiText-2 / C4 / PTB or a file, GPTQ protocol.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "core/env.h"
#include "core/error.h"
#include "eval/ppl_suite.h"
#include "io/atomic_file.h"
#include "text/datasets.h"
#include "text/tokenizer.h"

namespace loaq::cli {

namespace {

struct EvalArgs {
  std::string model;
  std::string ppl = "wikitext2,c4";
  std::string data;  // default: <assets>/data
  int64_t seqlen = 2048;
  int64_t max_windows = 0;
  int64_t batch_tokens = 4096;
  bool no_bos = false;
  bool quiet = false;
  int threads = 0;
  std::string json;
};

int run_eval(const EvalArgs& a) {
  set_num_threads(a.threads);
  const std::string data = a.data.empty() ? default_assets_dir() + "/data" : a.data;
  const auto datasets = split_csv(a.ppl);
  if (datasets.empty()) fail("--ppl: no dataset given");

  const Checkpoint ckpt(a.model);
  const auto tok = load_tokenizer(a.model);
  if (tok->vocab_size() > ckpt.config().vocab_size)
    fail("{}: tokenizer has {} tokens but config.json vocab_size is {}", tok->source(),
         tok->vocab_size(), ckpt.config().vocab_size);
  const Model model = load_model(ckpt);
  const bool bos = !a.no_bos && tok->add_bos;

  PplSuiteOptions po;
  po.datasets = datasets;
  po.data_dir = data;
  po.seqlen = a.seqlen;
  po.max_windows = a.max_windows;
  po.batch_tokens = a.batch_tokens;
  po.bos = bos;
  po.progress = !a.quiet;
  const auto res = run_ppl_suite(model, prepare_eval_streams(*tok, po), po);

  nlohmann::ordered_json out;
  out["model"] = a.model;
  out["settings"] = {{"seqlen", a.seqlen},
                     {"max_windows", a.max_windows},
                     {"bos", bos},
                     {"tokenizer", tok->source()},
                     {"protocol", "GPTQ: whole text tokenized once, one BOS at the stream start when "
                                  "the tokenizer adds one, non-overlapping windows, tail dropped"}};
  add_ppl_json(out, res);
  fmt::print("{:<12} {:>12} {:>10} {:>10} {:>9}\n", "dataset", "ppl", "windows", "tokens", "seconds");
  for (const auto& p : res)
    fmt::print("{:<12} {:>12.6g} {:>10} {:>10} {:>9.1f}\n", p.name, p.r.ppl, p.r.n_windows,
               p.r.predicted_tokens, p.r.seconds);
  if (!a.json.empty()) write_file_atomic(a.json, out.dump(2) + "\n");
  return 0;
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Perplexity of a checkpoint (GPTQ protocol)");
  cmd->add_option("--model", a->model, "Hugging Face model directory")->required();
  cmd->add_option("--ppl", a->ppl, "Comma-separated: wikitext2, c4, ptb, or paths of text/jsonl files")
      ->capture_default_str();
  cmd->add_option("--seqlen", a->seqlen, "Window length in tokens")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--max-windows", a->max_windows, "Evaluate only the first K windows (0: all)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-tokens", a->batch_tokens, "Tokens per forward batch")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--data", a->data, "Datasets folder (default: $LOAQ_ASSETS/data)");
  cmd->add_flag("--no-bos", a->no_bos, "Do not prepend BOS to the token stream");
  cmd->add_option("--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("--json", a->json, "Write the results as JSON to this file");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress bar");
  return [a] { return run_eval(*a); };
}

}  // namespace loaq::cli
