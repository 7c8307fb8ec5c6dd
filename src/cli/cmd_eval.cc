// `loaq eval`: perplexity of a checkpoint on WikiText-2 / C4 / PTB or a file, GPTQ protocol.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "core/env.h"
#include "core/error.h"
#include "eval/perplexity.h"
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

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

int run_eval(const EvalArgs& a) {
  set_num_threads(a.threads);
  const std::string data = a.data.empty() ? default_assets_dir() + "/data" : a.data;
  const auto datasets = split_list(a.ppl);
  if (datasets.empty()) fail("--ppl: no dataset given");

  const Checkpoint ckpt(a.model);
  const auto tok = load_tokenizer(a.model);
  if (tok->vocab_size() > ckpt.config().vocab_size)
    fail("{}: tokenizer has {} tokens but config.json vocab_size is {}", tok->source(),
         tok->vocab_size(), ckpt.config().vocab_size);
  const Model model = load_model(ckpt);
  const bool bos = !a.no_bos && tok->add_bos;

  nlohmann::ordered_json out;
  out["model"] = a.model;
  out["settings"] = {{"seqlen", a.seqlen},
                     {"max_windows", a.max_windows},
                     {"bos", bos},
                     {"tokenizer", tok->source()},
                     {"protocol", "GPTQ: whole text tokenized once, one BOS at the stream start when "
                                  "the tokenizer adds one, non-overlapping windows, tail dropped"}};
  out["ppl"] = nlohmann::ordered_json::object();
  out["details"] = nlohmann::ordered_json::object();
  fmt::print("{:<12} {:>12} {:>10} {:>10} {:>9}\n", "dataset", "ppl", "windows", "tokens", "seconds");
  for (const auto& name : datasets) {
    const EvalDataset d = load_eval_dataset(name, data);
    std::vector<int32_t> ids = bos ? tok->encode_with_special(d.text) : tok->encode(d.text);
    const auto encoded = int64_t(ids.size());
    if (d.windows_cap && int64_t(ids.size()) > *d.windows_cap * a.seqlen)
      ids.resize(size_t(*d.windows_cap * a.seqlen));
    PplOptions o;
    o.seqlen = a.seqlen;
    o.max_windows = a.max_windows;
    o.batch_tokens = a.batch_tokens;
    o.progress = !a.quiet;
    o.label = name;
    const PplResult r = perplexity(model, ids, o);
    fmt::print("{:<12} {:>12.6g} {:>10} {:>10} {:>9.1f}\n", name, r.ppl, r.n_windows, r.predicted_tokens,
               r.seconds);
    out["ppl"][name] = r.ppl;
    out["details"][name] = {{"file", d.path},
                            {"n_tokens_encoded", encoded},
                            {"tokens_after_cap", r.n_tokens},
                            {"n_windows", r.n_windows},
                            {"n_windows_available", r.n_windows_available},
                            {"predicted_tokens", r.predicted_tokens},
                            {"mean_nll", r.mean_nll},
                            {"seconds", r.seconds}};
  }
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
