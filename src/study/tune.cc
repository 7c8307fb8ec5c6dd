#include "study/tune.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "study/grid.h"
#include "study/job_result.h"

namespace fs = std::filesystem;

namespace loaq::study {
namespace {

double snap(double x) {
  return std::round(x * 1e6) / 1e6;
}
std::string num(double x) {
  return fmt::format("{:g}", snap(x));
}

std::vector<double> steps(double step) {
  std::vector<double> v;
  for (int i = 0; i * step <= 1 + 1e-9; ++i) v.push_back(snap(i * step));
  if (v.back() < 1 - 1e-9) v.push_back(1.0);
  return v;
}

// The candidates of every LoaQ (α, β) scored by the study runner: one job per seed, each
// calibrated on c4-head and scored on c4-heldout.
std::vector<TuneCandidate> run_points(const TuneOptions& o, const std::string& assets,
                                      const std::string& stage, const std::string& method,
                                      const std::vector<std::pair<double, double>>& points,
                                      TuneResult& acc) {
  Experiment e;
  e.file = (fs::path(o.run.out) / "tune.yaml").string();
  e.name = "tune-" + stage;
  e.models = {o.model};
  e.seeds = o.seeds;
  e.quantize = {{"method", {method}},
                {"wbits", {std::to_string(o.wbits)}},
                {"calib", {"c4-head"}},
                {"nsamples", {std::to_string(o.nsamples)}},
                {"seqlen", {std::to_string(o.seqlen)}}};
  for (const auto& [k, v] : o.extra) e.quantize.push_back({k, {v}});
  e.eval.ppl = {"c4-heldout"};
  e.eval.seqlen = o.seqlen;
  e.eval.max_windows = o.heldout_windows;
  std::vector<Job> jobs;
  std::vector<std::vector<Job>> per_point;
  for (const auto& [a, b] : points) {
    Experiment one = e;
    if (method == "loaq") {
      one.quantize.push_back({"alpha", {num(a)}});
      one.quantize.push_back({"beta", {num(b)}});
    }
    per_point.push_back(expand_grid(one, assets).jobs);
    for (auto& j : per_point.back())
      j.label = method == "gptq" ? fmt::format("gptq seed={}", j.seed)
                                 : fmt::format("loaq α={} β={} seed={}", num(a), num(b), j.seed);
    jobs.insert(jobs.end(), per_point.back().begin(), per_point.back().end());
  }
  const RunSummary s = run_jobs(e, jobs, o.run);
  acc.jobs += s.total;
  acc.jobs_run += s.ok + s.failed;
  std::vector<TuneCandidate> out;
  for (size_t i = 0; i < points.size(); ++i) {
    TuneCandidate c;
    c.stage = stage;
    c.method = method;
    c.alpha = points[i].first;
    c.beta = points[i].second;
    std::vector<double> v;
    for (const auto& j : per_point[i]) {
      const auto r = read_result(job_paths(o.run.out, j.hash).result);
      if (!r || !r->ok() || !r->metrics.count("c4-heldout")) continue;
      v.push_back(r->metrics.at("c4-heldout"));
      acc.job_seconds += r->quantize_seconds + r->eval_seconds;
    }
    c.ok = !v.empty() && v.size() == per_point[i].size();
    c.score = mean_sd(v);
    out.push_back(c);
  }
  return out;
}

}  // namespace

TuneResult tune_search(const TuneOptions& o, const TuneScorer& score) {
  TuneResult r;
  auto find = [&](const std::string& method, double a, double b) -> const TuneCandidate* {
    for (const auto& c : r.candidates)
      if (c.method == method &&
          (method == "gptq" || (num(c.alpha) == num(a) && num(c.beta) == num(b))))
        return &c;
    return nullptr;
  };
  auto stage = [&](const std::string& name, const std::string& method,
                   const std::vector<std::pair<double, double>>& pts) {
    std::vector<std::pair<double, double>> todo;
    for (const auto& [a, b] : pts)
      if (a >= -1e-9 && a <= 1 + 1e-9 && b >= -1e-9 && b <= 1 + 1e-9 && !find(method, a, b))
        todo.push_back({snap(a), snap(b)});
    if (todo.empty()) return;
    for (auto& c : score(name, method, todo)) r.candidates.push_back(c);
  };
  // The best finished LoaQ candidate, at β = 0 only or at α = `alpha`.
  auto best_loaq = [&](bool beta_zero, double alpha) -> const TuneCandidate* {
    const TuneCandidate* best = nullptr;
    for (const auto& c : r.candidates)
      if (c.ok && c.method == "loaq" && (beta_zero ? c.beta == 0 : num(c.alpha) == num(alpha)) &&
          (!best || c.score.mean < best->score.mean))
        best = &c;
    return best;
  };
  stage("gptq", "gptq", {{0.0, 0.0}});
  std::vector<std::pair<double, double>> pts;
  for (const double a : steps(o.alpha_step)) pts.push_back({a, 0.0});
  stage("alpha", "loaq", pts);
  if (o.refine)
    if (const auto* b = best_loaq(true, 0)) {
      const double a = b->alpha, d = o.alpha_step / 2;
      stage("alpha-fine", "loaq", {{a - d, 0.0}, {a + d, 0.0}});
    }
  if (const auto* ba = best_loaq(true, 0)) {
    const double alpha = ba->alpha;
    pts.clear();
    for (const double b : steps(o.beta_step)) pts.push_back({alpha, b});
    stage("beta", "loaq", pts);
    if (o.refine)
      for (const double d : {o.beta_step / 2, o.beta_step / 4})
        if (const auto* bb = best_loaq(false, alpha)) {
          const double b = bb->beta;
          stage("beta-fine", "loaq", {{alpha, b - d}, {alpha, b + d}});
        }
  }
  const TuneCandidate* best = nullptr;
  for (const auto& c : r.candidates)
    if (c.ok && (!best || c.score.mean < best->score.mean)) best = &c;
  if (!best) fail("bench tune: no candidate finished (see the job logs in {}/jobs)", o.run.out);
  r.best = *best;
  return r;
}

TuneResult tune_alpha_beta(const TuneOptions& o, const std::string& assets) {
  fs::create_directories(o.run.out);
  TuneResult acc;
  TuneResult r = tune_search(o, [&](const std::string& stage, const std::string& method,
                                    const std::vector<std::pair<double, double>>& pts) {
    return run_points(o, assets, stage, method, pts, acc);
  });
  r.jobs = acc.jobs;
  r.jobs_run = acc.jobs_run;
  r.job_seconds = acc.job_seconds;
  return r;
}

std::string tune_markdown(const TuneResult& r) {
  std::string s = "| stage | method | α | β | held-out C4-train ppl |\n|---|---|---|---|---|\n";
  for (const auto& c : r.candidates) {
    const bool best = c.method == r.best.method && c.alpha == r.best.alpha && c.beta == r.best.beta;
    std::string score = !c.ok ? "failed" : fmt::format("{:.3f}", c.score.mean);
    if (c.ok && c.score.n > 1) score += fmt::format(" ± {:.3f}", c.score.sd);
    if (best) score = fmt::format("**{}**", score);
    const bool g = c.method == "gptq";
    s += fmt::format("| {} | {} | {} | {} | {} |\n", c.stage, g ? "GPTQ" : "LoaQ",
                     g ? "–" : num(c.alpha), g ? "–" : num(c.beta), score);
  }
  return s;
}

}  // namespace loaq::study
