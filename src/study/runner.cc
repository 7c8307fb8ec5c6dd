#include "study/runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/blas.h"
#include "core/error.h"
#include "core/progress.h"
#include "io/atomic_file.h"
#include "study/subprocess.h"

namespace fs = std::filesystem;

namespace loaq::study {
namespace {

std::string join_args(const std::vector<std::string>& a) {
  std::string s;
  for (const auto& x : a) {
    const bool quote = x.empty() || x.find_first_of(" \t'\"$\\") != std::string::npos;
    s += (s.empty() ? "" : " ") + (quote ? "'" + x + "'" : x);
  }
  return s;
}

// The last line of the log that says something ("loaq: error: ..."), for the summary.
std::string last_log_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last, error;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos || line.rfind("===", 0) == 0) continue;
    last = line;
    if (line.find("error") != std::string::npos) error = line;
  }
  return error.empty() ? last : error;
}

void append_line(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::app);
  f << text << "\n";
}

std::vector<std::pair<std::string, std::string>> settings_of(const Job& j) {
  std::vector<std::pair<std::string, std::string>> s = {{"model", j.model_name}};
  if (j.seeded) s.emplace_back("seed", std::to_string(j.seed));
  for (const auto& kv : j.options) s.push_back(kv);
  return s;
}

JobResult run_once(const Experiment& e, const Job& j, const RunOptions& o, int threads,
                   int attempts_before) {
  const JobPaths p = job_paths(o.out, j.hash);
  fs::create_directories(p.dir);
  std::vector<std::string> q = {o.loaq};
  for (const auto& a : quantize_args(j)) q.push_back(a);
  q.insert(q.end(), {"--out", p.model, "--force", "--json", p.report, "--threads",
                     std::to_string(threads), "-q"});
  std::vector<std::string> ev;
  if (const auto a = eval_args(j, e.eval); !a.empty()) {
    ev.push_back(o.loaq);
    ev.insert(ev.end(), a.begin(), a.end());
    ev.insert(ev.end(), {"--model", p.model, "--json", p.eval_json, "--threads",
                         std::to_string(threads), "-q"});
  }
  nlohmann::ordered_json s;
  s["hash"] = j.hash;
  s["label"] = j.label;
  s["model_path"] = j.model;
  nlohmann::ordered_json set = nlohmann::ordered_json::object();
  for (const auto& [k, v] : settings_of(j)) set[k] = v;
  s["settings"] = set;
  s["quantize_command"] = join_args(q);
  s["eval_command"] = join_args(ev);
  s["canonical"] = j.canonical;
  write_file_atomic(p.settings, s.dump(2) + "\n");
  for (const auto& f : {p.report, p.eval_json}) fs::remove(f);

  JobResult r;
  r.hash = j.hash;
  r.label = j.label;
  r.attempts = attempts_before + 1;
  r.settings = settings_of(j);
  r.blas_kernels = blas_kernels();
  r.threads = threads;
  // Jobs share the cores: OpenMP threads that spin at a barrier while another job holds their core
  // slow a job several times over, so they wait passively unless the user chose otherwise.
  std::vector<std::pair<std::string, std::string>> env = {
      {"OMP_NUM_THREADS", std::to_string(threads)}};
  if (!std::getenv("OMP_WAIT_POLICY")) env.emplace_back("OMP_WAIT_POLICY", "passive");
  auto failed = [&](const char* step, const ProcessResult& pr, const std::string& log) {
    r.status = "failed";
    r.failed_step = step;
    r.error = pr.describe();
    if (const std::string l = last_log_line(log); !l.empty()) r.error += ": " + l;
    return r;
  };
  append_line(p.quantize_log, fmt::format("=== attempt {}: {}", r.attempts, join_args(q)));
  const ProcessResult pq = run_process(q, env, p.quantize_log);
  r.quantize_seconds = pq.seconds;
  r.peak_rss_bytes = double(pq.peak_rss_kib) * 1024.0;
  if (!pq.ok()) return failed("quantize", pq, p.quantize_log);
  if (!ev.empty()) {
    append_line(p.eval_log, fmt::format("=== attempt {}: {}", r.attempts, join_args(ev)));
    const ProcessResult pe = run_process(ev, env, p.eval_log);
    r.eval_seconds = pe.seconds;
    r.peak_rss_bytes = std::max(r.peak_rss_bytes, double(pe.peak_rss_kib) * 1024.0);
    if (!pe.ok()) return failed("eval", pe, p.eval_log);
  }
  try {
    r.metrics = collect_metrics(p.report, p.eval_json);
  } catch (const Error& err) {
    r.status = "failed";
    r.failed_step = "collect";
    r.error = err.what();
    return r;
  }
  r.quant_seconds = r.metrics.count("quant_seconds") ? r.metrics.at("quant_seconds") : 0.0;
  r.status = "ok";
  if (!e.keep_models) fs::remove_all(p.model);
  return r;
}

std::string metric_summary(const JobResult& r) {
  std::string s;
  for (const auto& [k, v] : r.metrics) {
    if (k == "quant_minutes" || k == "quant_seconds" || k == "peak_rss_gib") continue;
    if (k.find('.') != std::string::npos) continue;  // per-sub-layer traces: the last one below
    s += fmt::format("  {} {:.4g}", k, v);
  }
  // A trace: its last sub-layer (the model's output), raw and normalized.
  for (const char* m : {"trace_mse", "trace_mse_norm"}) {
    std::string last;
    for (int64_t k = 0; r.metrics.count(fmt::format("{}.{}", m, k)); ++k)
      last = fmt::format("{}.{}", m, k);
    if (!last.empty()) s += fmt::format("  {} {:.4g}", last, r.metrics.at(last));
  }
  return s;
}

}  // namespace

OutLock::OutLock(const std::string& out) {
  fs::create_directories(out);
  const std::string path = (fs::path(out) / ".lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    fail("{}: another `loaq bench run` is using this folder", out);
  }
}

OutLock::~OutLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::string job_status(const std::string& out, const Job& j) {
  const auto r = read_result(job_paths(out, j.hash).result);
  if (!r) return "pending";
  if (r->ok()) return "done";
  return fmt::format("failed ({} attempt{})", r->attempts, r->attempts == 1 ? "" : "s");
}

RunSummary run_jobs(const Experiment& e, const std::vector<Job>& jobs, const RunOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  RunSummary sum;
  sum.total = int(jobs.size());
  std::vector<size_t> pending;
  std::vector<int> attempts(jobs.size(), 0);
  const int cores =
      o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = std::max(1, cores / std::max(1, o.jobs));
  const std::string kernels = blas_kernels();
  std::string other_numerics;  // an archived result measured with other kernels or threads
  int not_restored = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto r = read_result(job_paths(o.out, jobs[i].hash).result);
    if (!(r && r->ok()) && !o.archive.empty()) {
      const std::string kept = (fs::path(o.archive) / (jobs[i].hash + ".json")).string();
      auto a = read_result(kept);
      if (a && !a->ok()) a.reset();
      if (a) {
        if (a->hash != jobs[i].hash)
          fail("{}: field 'hash' is '{}', not the job's '{}' (its file name)", kept, a->hash,
               jobs[i].hash);
        if ((!a->blas_kernels.empty() && a->blas_kernels != kernels) ||
            (a->threads > 0 && a->threads != threads)) {
          // Its bits need not be this run's: run the job again (and replace the archived file).
          if (other_numerics.empty())
            other_numerics = fmt::format("{} kernels, {} thread(s)", a->blas_kernels, a->threads);
          ++not_restored;
          a.reset();
        }
      }
      if (a) {
        const JobPaths p = job_paths(o.out, jobs[i].hash);
        fs::create_directories(p.dir);
        write_result(p.result, *a);
        r = a;
        ++sum.restored;
      }
    }
    if (r && r->ok()) {
      ++sum.skipped;
      continue;
    }
    if (r) attempts[i] = r->attempts;
    pending.push_back(i);
  }
  const int workers = std::max(1, std::min<int>(o.jobs, int(pending.size())));
  if (not_restored > 0)
    fmt::print(
        "{}: {} archived result(s) not used: measured with {} (first of them), this run has {} "
        "kernels and {} thread(s) per job; they run again\n",
        o.archive, not_restored, other_numerics, kernels, threads);
  fmt::print(
      "{}: {} jobs, {} finished earlier (skipped{}), {} to run, {} at a time, {} thread{} "
      "each\n",
      e.name, sum.total, sum.skipped,
      sum.restored > 0 ? fmt::format("; {} from the archive {}", sum.restored, o.archive) : "",
      pending.size(), workers, threads, threads == 1 ? "" : "s");
  std::fflush(stdout);
  if (pending.empty()) return sum;

  std::mutex mu;
  size_t next = 0;
  int finished = sum.skipped;
  Progress bar("jobs", int64_t(pending.size()), "job", o.progress);
  const bool tty = ::isatty(2);
  auto say = [&](const std::string& line) {
    fmt::print("{}{}\n", tty && o.progress ? "\r\033[K" : "", line);
    std::fflush(stdout);
  };
  auto worker = [&] {
    for (;;) {
      size_t i;
      {
        std::lock_guard lock(mu);
        if (next == pending.size()) return;
        i = pending[next++];
      }
      const Job& j = jobs[i];
      JobResult r;
      for (int a = 0; a <= o.retry; ++a) {
        try {
          r = run_once(e, j, o, threads, attempts[i]);
        } catch (const std::exception& err) {  // a file system error, a bad path
          r = JobResult{};
          r.hash = j.hash;
          r.label = j.label;
          r.attempts = attempts[i] + 1;
          r.status = "failed";
          r.failed_step = "start";
          r.error = err.what();
        }
        attempts[i] = r.attempts;
        write_result(job_paths(o.out, j.hash).result, r);
        if (r.ok() && !o.archive.empty())
          write_result((fs::path(o.archive) / (j.hash + ".json")).string(), r);
        if (r.ok()) break;
        if (a < o.retry) {
          std::lock_guard lock(mu);
          say(fmt::format("  retry  {} [{}] after {}: {}", j.label, j.hash, r.failed_step,
                          r.error));
        }
      }
      std::lock_guard lock(mu);
      ++finished;
      if (r.ok()) {
        ++sum.ok;
        say(fmt::format("[{}/{}] ok      {} [{}]{}  ({:.1f} s + {:.1f} s)", finished, sum.total,
                        j.label, j.hash, metric_summary(r), r.quantize_seconds, r.eval_seconds));
      } else {
        ++sum.failed;
        sum.failures.push_back(r);
        say(fmt::format("[{}/{}] FAILED  {} [{}]: {}: {} (attempt {})", finished, sum.total,
                        j.label, j.hash, r.failed_step, r.error, r.attempts));
      }
      bar.advance();
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  bar.finish();
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

}  // namespace loaq::study
