// `loaq sweep`: methods × bit-widths × calibration seeds on one model, each quantized from the same
// full-precision weights and evaluated on the same token streams; prints a perplexity table
// (mean ± standard deviation over seeds) and writes every run to JSON.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/quant_options.h"
#include "core/blas.h"
#include "core/env.h"
#include "core/error.h"
#include "dist/dist.h"
#include "eval/ppl_suite.h"
#include "io/atomic_file.h"
#include "pipeline/output.h"
#include "pipeline/quantize.h"
#include "text/tokenizer.h"

namespace loaq::cli {

namespace {

struct SweepArgs {
  std::string model, data, eval = "wikitext2,c4", json, markdown,
                           methods = "none,rtn,gptq,gptaq,qronos,loaq", wbits = "2,3", seeds = "0",
                           alphas, betas;
  int64_t eval_seqlen = 0;
  bool no_bos = false, quiet = false;
  int threads = 0;
  QuantArgs q;
};

template <class T>
std::vector<T> parse_list(const std::string& s, const char* opt) {
  std::vector<T> out;
  for (const auto& x : split_csv(s)) {
    try {
      size_t used = 0;
      const auto v = std::stoll(x, &used);
      if (used != x.size()) throw std::invalid_argument(x);
      out.push_back(T(v));
    } catch (const std::exception&) {
      fail("{}: '{}' is not an integer", opt, x);
    }
  }
  if (out.empty()) fail("{}: empty list", opt);
  return out;
}

std::vector<double> parse_doubles(const std::string& s, const char* opt, double fallback) {
  if (s.empty()) return {fallback};
  std::vector<double> out;
  for (const auto& x : split_csv(s)) {
    try {
      size_t used = 0;
      out.push_back(std::stod(x, &used));
      if (used != x.size()) throw std::invalid_argument(x);
    } catch (const std::exception&) {
      fail("{}: '{}' is not a number", opt, x);
    }
  }
  return out;
}

int run_sweep(const SweepArgs& a) {
  using Clock = std::chrono::steady_clock;
  set_num_threads(a.threads);
  const auto t_start = Clock::now();
  const std::string data = a.data.empty() ? default_assets_dir() + "/data" : a.data;
  const Checkpoint ckpt(a.model);
  const auto tok = load_model_tokenizer(a.model, ckpt.config());
  const auto methods = split_csv(a.methods);
  const auto bits = parse_list<int>(a.wbits, "--wbits");
  const auto seeds = parse_list<uint64_t>(a.seeds, "--seeds");
  const auto alphas = parse_doubles(a.alphas, "--alphas", a.q.alpha);
  const auto betas = parse_doubles(a.betas, "--betas", a.q.beta);
  for (const auto& m : methods) parse_method(m);  // validate before any work

  PplSuiteOptions po;
  po.datasets = split_csv(a.eval);
  if (po.datasets.empty()) fail("--eval: no dataset");
  po.data_dir = data;
  CalibConfig cc0 = to_calib_config(a.q, ckpt.config().max_position_embeddings);
  po.seqlen = a.eval_seqlen > 0 ? a.eval_seqlen : cc0.seqlen;
  po.bos = !a.no_bos && tok->add_bos;
  po.progress = !a.quiet;
  const auto streams = prepare_eval_streams(*tok, po);

  nlohmann::ordered_json out;
  out["model"] = a.model;
  out["eval_settings"] = {{"seqlen", po.seqlen}, {"bos", po.bos}, {"datasets", po.datasets}};
  out["runs"] = nlohmann::ordered_json::array();
  // ppl[method/bits][dataset] = values over seeds
  std::vector<std::pair<std::string, std::map<std::string, std::vector<double>>>> table;
  auto row_of = [&](const std::string& key) -> std::map<std::string, std::vector<double>>& {
    for (auto& r : table)
      if (r.first == key) return r.second;
    table.emplace_back(key, std::map<std::string, std::vector<double>>{});
    return table.back().second;
  };

  for (uint64_t seed : seeds) {
    QuantArgs qa = a.q;
    qa.seed = seed;
    const CalibConfig cc = to_calib_config(qa, ckpt.config().max_position_embeddings);
    const CalibSet calib = sample_calibration(*tok, cc, data);
    for (const auto& method : methods) {
      const bool is_loaq = method == "loaq";
      for (int b : (method == "none" ? std::vector<int>{16} : bits))
        for (double alpha : is_loaq ? alphas : std::vector<double>{a.q.alpha})
          for (double beta : is_loaq ? betas : std::vector<double>{a.q.beta}) {
            if (method == "none" && seed != seeds.front())
              continue;  // FP does not depend on the seed
            const auto t0 = Clock::now();
            QuantArgs qb = qa;
            qb.alpha = alpha;
            qb.beta = beta;
            const QuantizeConfig qc =
                to_quantize_config(qb, method, method == "none" ? 4 : b, !a.quiet);
            // Each run is streamed into a scratch output directory and evaluated from it, one
            // layer resident at a time: no copy of the model is held.
            // (named by rank 0's pid: on several ranks they share it, and rank 0 writes it)
            int64_t pid = ::getpid();
            dist::broadcast(std::span(&pid, 1), 0);
            const std::string scratch = fmt::format(
                "{}/.loaq-sweep-{}", std::filesystem::temp_directory_path().string(), pid);
            OutputOptions oo;
            oo.out_dir = scratch;
            oo.force = true;
            oo.quiet = true;
            QuantizeReport rep;
            std::vector<PplSuiteResult> res;
            {
              QuantOutput qo(ckpt, qc, oo, nlohmann::ordered_json::object());
              rep = quantize_layers(ModelSource(ckpt), calib, qc, qo);
              const std::string dir = dist::is_root() ? qo.assemble() : qo.partial_dir();
              if (dist::size() > 1) dist::barrier();  // written, before every rank reads it
              const Checkpoint written(dir);
              res = run_ppl_suite(ModelSource(written), streams, po);
              if (dist::size() > 1) dist::barrier();  // read by every rank, before it goes
            }
            std::error_code rm_ec;
            if (dist::is_root()) std::filesystem::remove_all(scratch + ".partial", rm_ec);
            nlohmann::ordered_json run;
            run["settings"] = quant_settings_json(qc, calib);
            run["settings"]["seed"] = seed;
            if (method == "none") run["settings"]["grid"] = "full precision";
            run["timings"] = rep.timings;
            run["seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
            add_ppl_json(run, res);
            out["runs"].push_back(run);
            std::string key = method == "none" ? "fp" : fmt::format("{} w{}", method, b);
            if (is_loaq && (alphas.size() > 1 || betas.size() > 1))
              key += fmt::format(" α{:g} β{:g}", alpha, beta);
            auto& row = row_of(key);
            std::string line = fmt::format("{:<24} seed {:<4}", key, seed);
            for (const auto& p : res) {
              row[p.name].push_back(p.r.ppl);
              line += fmt::format(" {} {:.3f}", p.name, p.r.ppl);
            }
            if (dist::is_root())
              fmt::print(stderr, "{}  ({:.1f} s)\n", line, run["seconds"].get<double>());
          }
    }
  }

  if (!dist::is_root()) return 0;  // rank 0 prints and writes
  // The table: mean ± sample standard deviation over seeds, printed and (--markdown) as Markdown.
  const std::string caption = fmt::format(
      "perplexity, seqlen {}, {} seed(s); ± is the standard deviation over calibration seeds",
      po.seqlen, seeds.size());
  std::string md = fmt::format("| method | {} |\n|---|", fmt::join(po.datasets, " | "));
  for (size_t i = 0; i < po.datasets.size(); ++i) md += "---|";
  md += "\n";
  fmt::print("\n{:<26}", "method");
  for (const auto& d : po.datasets) fmt::print(" {:>22}", d);
  fmt::print("\n");
  nlohmann::ordered_json summary = nlohmann::ordered_json::object();
  for (const auto& [key, cols] : table) {
    fmt::print("{:<26}", key);
    md += fmt::format("| {} |", key);
    for (const auto& d : po.datasets) {
      const auto& v = cols.at(d);
      double mean = 0;
      for (double x : v) mean += x;
      mean /= double(v.size());
      double var = 0;
      for (double x : v) var += (x - mean) * (x - mean);
      const double sd = v.size() > 1 ? std::sqrt(var / double(v.size() - 1)) : 0.0;
      summary[key][d] = {{"mean", mean}, {"std", sd}, {"n", v.size()}, {"values", v}};
      const std::string cell =
          v.size() > 1 ? fmt::format("{:.3f} ± {:.3f}", mean, sd) : fmt::format("{:.3f}", mean);
      fmt::print(" {:>22}", cell);
      md += " " + cell + " |";
    }
    fmt::print("\n");
    md += "\n";
  }
  fmt::print("({})\n", caption);
  if (!a.markdown.empty())
    write_file_atomic(a.markdown,
                      fmt::format("{}\n{}: {}, {} thread(s), OpenBLAS {} kernels.\n", md,
                                  std::filesystem::path(a.model).filename().string(), caption,
                                  num_threads(), blas_kernels()));
  out["summary"] = summary;
  out["seconds"] = std::chrono::duration<double>(Clock::now() - t_start).count();
  if (!a.json.empty()) write_file_atomic(a.json, out.dump(2) + "\n");
  return 0;
}

}  // namespace

Runner add_sweep(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  auto* cmd =
      app.add_subcommand("sweep", "Quantize with several methods / bit-widths / seeds and compare");
  cmd->add_option("--model", a->model, "Hugging Face model directory")->required();
  cmd->add_option("--methods", a->methods, "Comma-separated methods (none = full precision)")
      ->capture_default_str();
  cmd->add_option("--wbits", a->wbits, "Comma-separated bit-widths")->capture_default_str();
  cmd->add_option("--seeds", a->seeds, "Comma-separated calibration seeds")->capture_default_str();
  cmd->add_option("--alphas", a->alphas,
                  "LoaQ: comma-separated α values to sweep (default: --alpha)");
  cmd->add_option("--betas", a->betas, "LoaQ: comma-separated β values to sweep (default: --beta)");
  add_quant_options(cmd, a->q, false);
  cmd->add_option("--eval", a->eval, "Datasets: wikitext2,c4,ptb or files")->capture_default_str();
  cmd->add_option("--eval-seqlen", a->eval_seqlen,
                  "Evaluation window (default: the calibration seqlen)")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 30));
  cmd->add_flag("--no-bos", a->no_bos, "Evaluate without BOS");
  cmd->add_option("--data", a->data, "Datasets folder (default: $LOAQ_ASSETS/data)");
  cmd->add_option("--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("--json", a->json, "Write all runs and the summary to this file");
  cmd->add_option("--markdown", a->markdown, "Write the table as Markdown to this file");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress bars");
  return [a] { return run_sweep(*a); };
}

}  // namespace loaq::cli
