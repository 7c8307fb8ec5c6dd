// `loaq bench run EXPERIMENT.yaml` runs an experiment's job grid (src/study/), each job its own
// `loaq quantize` + `loaq eval` process, resumable; `loaq bench report FOLDER` makes results.csv,
// results.json and the paper-shaped tables and figures.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/progress.h"
#include "io/atomic_file.h"
#include "study/experiment.h"
#include "study/grid.h"
#include "study/report.h"
#include "study/results.h"
#include "study/runner.h"
#include "study/subprocess.h"
#include "study/tune.h"

namespace fs = std::filesystem;

namespace loaq::cli {
namespace {

struct BenchArgs {
  std::string experiment, out, only, folder, docs, archive;
  int jobs = 1, retry = 0, threads = 0;
  bool dry_run = false, quiet = false, no_report = false;
  // tune
  std::string model, seeds = "0", group, rotate;
  int wbits = 2, nsamples = 128, seqlen = 256, heldout_windows = 0;
  bool paper_grid = false, no_refine = false;
  double alpha_step = 0.2, beta_step = 0.2;
};

void print_report(const study::ReportOutput& r, const std::string& folder) {
  fmt::print("report: {} jobs ({} failed, {} not run) in {}\n", r.jobs, r.failed, r.missing,
             folder);
  for (const auto& f : r.files) fmt::print("  wrote {}\n", f);
  for (const auto& m : r.messages) fmt::print(stderr, "loaq: note: {}\n", m);
  for (const auto& m : r.errors) fmt::print(stderr, "loaq: error: {}\n", m);
}

int run_bench(const BenchArgs& a) {
  const study::Experiment e = study::load_experiment(a.experiment);
  const study::JobGrid grid = study::expand_grid(e, default_assets_dir(), a.dry_run);
  const std::string out = a.out.empty() ? e.out : a.out;
  std::vector<study::Job> jobs;
  for (const auto& j : grid.jobs)
    if (study::job_matches(j, a.only)) jobs.push_back(j);
  if (a.dry_run) {
    fmt::print("{}: {} jobs{} in {}\n", e.name, jobs.size(),
               a.only.empty() ? "" : fmt::format(" (of {}, --only {})", grid.jobs.size(), a.only),
               out);
    std::vector<std::string> absent;
    for (const auto& j : grid.jobs)
      if (!fs::is_directory(j.model) &&
          std::find(absent.begin(), absent.end(), j.model) == absent.end())
        absent.push_back(j.model);
    for (const auto& m : absent) fmt::print("  note: model folder {} does not exist here\n", m);
    for (const auto& j : jobs) {
      fmt::print("  {}  {:<10}  {}\n", j.hash, study::job_status(out, j), j.label);
      std::string cmd = "loaq";
      for (const auto& x : study::quantize_args(j)) cmd += " " + x;
      fmt::print("      {}\n", cmd);
    }
    for (const auto& d : grid.dropped) fmt::print("  dropped  {}: {}\n", d.label, d.reason);
    return 0;
  }
  if (!grid.dropped.empty())
    fmt::print(
        "{}: {} combinations dropped (invalid, or equal to another job once resolved; "
        "--dry-run lists them with the reason)\n",
        e.name, grid.dropped.size());
  const study::OutLock lock(out);
  {  // The experiment as run, and its grid: what `bench report` reads.
    std::ifstream in(a.experiment, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    write_file_atomic((fs::path(out) / "experiment.yaml").string(), ss.str());
    std::vector<std::string> hashes, labels;
    for (const auto& j : grid.jobs) {
      hashes.push_back(j.hash);
      labels.push_back(j.label);
    }
    study::write_grid_index(out, hashes, labels);
  }
  study::RunOptions o;
  o.out = out;
  o.loaq = study::self_executable();
  o.jobs = a.jobs;
  o.retry = a.retry;
  o.threads = a.threads;
  o.progress = !a.quiet;
  o.archive = a.archive;
  if (!o.archive.empty()) {
    std::error_code ec;
    fs::create_directories(o.archive, ec);
    if (ec) fail("--archive: cannot create '{}': {}", o.archive, ec.message());
  }
  const study::RunSummary s = study::run_jobs(e, jobs, o);
  fmt::print("{}: {} ok, {} failed, {} skipped (finished earlier), {}\n", e.name, s.ok, s.failed,
             s.skipped, format_duration(s.seconds));
  if (!s.failures.empty()) {
    fmt::print("failed jobs (logs in {}/jobs/HASH/):\n", out);
    for (const auto& f : s.failures)
      fmt::print("  {} [{}] {}: {} ({} attempt{})\n", f.label, f.hash, f.failed_step, f.error,
                 f.attempts, f.attempts == 1 ? "" : "s");
  }
  const study::ReportOutput rep = a.no_report ? study::ReportOutput{} : study::write_report(out);
  if (!a.no_report) print_report(rep, out);
  if (!s.failures.empty())
    fail("{}: {} of {} jobs failed (listed above)", e.name, s.failed, s.total);
  if (!rep.errors.empty())
    fail("{}: {} table(s) or figure(s) could not be made", e.name, rep.errors.size());
  return 0;
}

int report_bench(const BenchArgs& a) {
  const study::ReportOutput r = study::write_report(a.folder, a.docs);
  print_report(r, a.folder);
  if (!r.errors.empty())
    fail("{}: {} table(s) or figure(s) could not be made (above)", a.folder, r.errors.size());
  return 0;
}

int tune_bench(const BenchArgs& a) {
  study::TuneOptions o;
  o.model = a.model;
  o.wbits = a.wbits;
  o.seeds.clear();
  for (const auto& s : split_csv(a.seeds)) {
    try {
      o.seeds.push_back(std::stoull(s));
    } catch (const std::exception&) {
      fail("--seeds: '{}' is not a non-negative integer", s);
    }
  }
  o.nsamples = a.nsamples;
  o.seqlen = a.seqlen;
  o.heldout_windows = a.heldout_windows;
  if (!a.group.empty()) o.extra.emplace_back("group", a.group);
  if (!a.rotate.empty()) o.extra.emplace_back("rotate", a.rotate);
  o.alpha_step = a.paper_grid ? 0.1 : a.alpha_step;
  o.beta_step = a.paper_grid ? 0.05 : a.beta_step;
  o.refine = !a.paper_grid && !a.no_refine;
  o.run.out = a.out.empty() ? "bench-out/tune-" + fs::path(a.model).filename().string() +
                                  fmt::format("-w{}", a.wbits)
                            : a.out;
  o.run.loaq = study::self_executable();
  o.run.jobs = a.jobs;
  o.run.threads = a.threads;
  o.run.retry = a.retry;
  o.run.progress = !a.quiet;
  const study::OutLock lock(o.run.out);
  const study::TuneResult r = study::tune_alpha_beta(o, default_assets_dir());
  const std::string md = study::tune_markdown(r);
  const std::string choice =
      r.best.method == "gptq"
          ? std::string("GPTQ (no LoaQ setting beat it on the held-out windows)")
          : fmt::format("LoaQ α = {:g}, β = {:g}", r.best.alpha, r.best.beta);
  const std::string cost = fmt::format(
      "{} candidate points ({} jobs, {} run now), {:.0f} s of job wall time; the paper's grid has "
      "{} LoaQ points",
      r.candidates.size(), r.jobs, r.jobs_run, r.job_seconds, r.paper_points);
  fmt::print("\n{}\nchoice: {}\ncost: {}\n", md, choice, cost);
  nlohmann::ordered_json j;
  j["model"] = a.model;
  j["wbits"] = a.wbits;
  j["seeds"] = o.seeds;
  j["score"] = "perplexity of held-out C4-train windows (c4-heldout), calibration from c4-head";
  nlohmann::ordered_json cands = nlohmann::ordered_json::array();
  for (const auto& c : r.candidates)
    cands.push_back({{"stage", c.stage},
                     {"method", c.method},
                     {"alpha", c.alpha},
                     {"beta", c.beta},
                     {"ok", c.ok},
                     {"mean", c.score.mean},
                     {"sd", c.score.sd},
                     {"n", c.score.n}});
  j["candidates"] = cands;
  j["best"] = {{"method", r.best.method},
               {"alpha", r.best.alpha},
               {"beta", r.best.beta},
               {"mean", r.best.score.mean}};
  j["cost"] = {{"points", r.candidates.size()},
               {"jobs", r.jobs},
               {"jobs_run", r.jobs_run},
               {"job_seconds", r.job_seconds},
               {"paper_points", r.paper_points}};
  write_file_atomic((fs::path(o.run.out) / "tune.json").string(), j.dump(2) + "\n");
  write_file_atomic((fs::path(o.run.out) / "tune.md").string(),
                    md + "\nchoice: " + choice + "\n\ncost: " + cost + "\n");
  fmt::print("wrote {}/tune.json and tune.md\n", o.run.out);
  return 0;
}

}  // namespace

Runner add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Experiments: job grids, resumable runs, paper tables");
  cmd->require_subcommand(1);
  auto* run =
      cmd->add_subcommand("run", "Run the jobs of an experiment file (skips finished ones)");
  run->add_option("EXPERIMENT", a->experiment, "Experiment file (YAML)")->required();
  run->add_option("--out", a->out, "Output folder (default: the experiment's 'out')");
  run->add_option("--jobs", a->jobs, "Jobs at a time; the cores are split between them")
      ->check(CLI::Range(1, 1024));
  run->add_flag("--dry-run", a->dry_run,
                "Print the jobs, their status and the dropped combinations");
  run->add_option("--retry", a->retry, "Extra attempts for a failing job")
      ->check(CLI::Range(0, 100));
  run->add_option("--only", a->only,
                  "Only the jobs whose settings match key=value[,key=value] (or a hash prefix)");
  run->add_option("--threads", a->threads, "Cores to split between the jobs (default: all)")
      ->check(CLI::Range(1, 4096));
  run->add_option("--archive", a->archive,
                  "Folder of finished results kept across machines (HASH.json): restored before "
                  "running, and every job that finishes ok is added");
  run->add_flag("-q,--quiet", a->quiet, "No progress bar");
  run->add_flag("--no-report", a->no_report, "Do not write the report at the end");
  auto* rep = cmd->add_subcommand("report", "Tables, figures, results.csv of an experiment folder");
  rep->add_option("FOLDER", a->folder, "The experiment's output folder")->required();
  rep->add_option("--docs", a->docs,
                  "Also write each Markdown table and figure here as EXPERIMENT-NAME.md/.png/.svg");
  auto* tune = cmd->add_subcommand(
      "tune", "Choose LoaQ's α and β on held-out C4-train windows (GPTQ always a candidate)");
  tune->add_option("--model", a->model, "Model folder (or a name under $LOAQ_ASSETS/models)")
      ->required();
  tune->add_option("--wbits", a->wbits, "Weight bits")->check(CLI::Range(2, 8));
  tune->add_option("--seeds", a->seeds, "Calibration seeds, comma-separated (scores are means)");
  tune->add_option("--nsamples", a->nsamples, "Calibration windows")->check(CLI::Range(1, 1 << 20));
  tune->add_option("--seqlen", a->seqlen, "Calibration and held-out window length")
      ->check(CLI::Range(2, 1 << 20));
  tune->add_option("--heldout-windows", a->heldout_windows,
                   "Score on the first K held-out windows (0: all)")
      ->check(CLI::Range(0, 1 << 30));
  tune->add_option("--group", a->group, "Group size (default: per channel)");
  tune->add_option("--rotate", a->rotate, "none or hadamard");
  tune->add_flag("--paper-grid", a->paper_grid,
                 "The paper's full grid (α step 0.1, then β step 0.05) instead of coarse to fine");
  tune->add_option("--alpha-step", a->alpha_step, "Step of the coarse α grid over 0…1")
      ->check(CLI::Range(0.01, 1.0));
  tune->add_option("--beta-step", a->beta_step, "Step of the coarse β grid over 0…1")
      ->check(CLI::Range(0.01, 1.0));
  tune->add_flag("--no-refine", a->no_refine, "Only the coarse grids (no ± half-step refinement)");
  tune->add_option("--out", a->out,
                   "Folder of the candidate jobs (default bench-out/tune-MODEL-wB)");
  tune->add_option("--jobs", a->jobs, "Jobs at a time")->check(CLI::Range(1, 1024));
  tune->add_option("--threads", a->threads, "Cores to split between the jobs")
      ->check(CLI::Range(1, 4096));
  tune->add_option("--retry", a->retry, "Extra attempts for a failing job")
      ->check(CLI::Range(0, 100));
  tune->add_flag("-q,--quiet", a->quiet, "No progress bar");
  return [a, run, rep, tune] {
    if (run->parsed()) return run_bench(*a);
    if (rep->parsed()) return report_bench(*a);
    if (tune->parsed()) return tune_bench(*a);
    return 2;
  };
}

}  // namespace loaq::cli
