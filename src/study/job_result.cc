#include "study/job_result.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "study/experiment.h"

namespace fs = std::filesystem;

namespace loaq::study {

JobPaths job_paths(const std::string& out, const std::string& hash) {
  const fs::path d = fs::path(out) / "jobs" / hash;
  auto f = [&](const char* n) { return (d / n).string(); };
  return {d.string(),       f("settings.json"), f("quantize.log"), f("eval.log"),
          f("report.json"), f("eval.json"),     f("result.json"),  f("model")};
}

std::optional<JobResult> read_result(const std::string& path) {
  if (!fs::exists(path)) return std::nullopt;
  const nlohmann::json j = read_json_file(path);
  if (!j.is_object()) fail("{}: expected a JSON object", path);
  JobResult r;
  r.hash = json_get<std::string>(j, "hash", path);
  r.label = json_get_or<std::string>(j, "label", path, "");
  r.status = json_get<std::string>(j, "status", path);
  if (r.status != "ok" && r.status != "failed")
    fail("{}: field 'status' must be \"ok\" or \"failed\" (found \"{}\")", path, r.status);
  r.attempts = json_get_or<int>(j, "attempts", path, 1);
  r.failed_step = json_get_or<std::string>(j, "failed_step", path, "");
  r.error = json_get_or<std::string>(j, "error", path, "");
  if (auto t = j.find("timings"); t != j.end() && t->is_object()) {
    r.quantize_seconds = json_get_or<double>(*t, "quantize_seconds", path, 0.0);
    r.eval_seconds = json_get_or<double>(*t, "eval_seconds", path, 0.0);
    r.quant_seconds = json_get_or<double>(*t, "quant_seconds", path, 0.0);
  }
  r.peak_rss_bytes = json_get_or<double>(j, "peak_rss_bytes", path, 0.0);
  if (auto e = j.find("environment"); e != j.end()) {
    if (!e->is_object()) fail("{}: field 'environment' must be an object", path);
    r.blas_kernels = json_get_or<std::string>(*e, "blas_kernels", path, "");
    r.threads = json_get_or<int>(*e, "threads", path, 0);
  }
  if (auto s = j.find("settings"); s != j.end()) {
    if (!s->is_object()) fail("{}: field 'settings' must be an object", path);
    for (const auto& [k, v] : s->items())
      r.settings.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  if (auto m = j.find("metrics"); m != j.end()) {
    if (!m->is_object()) fail("{}: field 'metrics' must be an object", path);
    for (const auto& [k, v] : m->items()) r.metrics[k] = json_value_as<double>(v, k.c_str(), path);
  }
  return r;
}

void write_result(const std::string& path, const JobResult& r) {
  nlohmann::ordered_json j;
  j["hash"] = r.hash;
  j["label"] = r.label;
  j["status"] = r.status;
  j["attempts"] = r.attempts;
  if (!r.ok()) {
    j["failed_step"] = r.failed_step;
    j["error"] = r.error;
  }
  nlohmann::ordered_json s = nlohmann::ordered_json::object();
  for (const auto& [k, v] : r.settings) s[k] = v;
  j["settings"] = s;
  j["timings"] = {{"quantize_seconds", r.quantize_seconds},
                  {"eval_seconds", r.eval_seconds},
                  {"quant_seconds", r.quant_seconds}};
  j["peak_rss_bytes"] = r.peak_rss_bytes;
  if (!r.blas_kernels.empty() || r.threads > 0)
    j["environment"] = {{"blas_kernels", r.blas_kernels}, {"threads", r.threads}};
  nlohmann::ordered_json m = nlohmann::ordered_json::object();
  for (const auto& [k, v] : r.metrics) m[k] = v;
  j["metrics"] = m;
  write_file_atomic(path, j.dump(2) + "\n");
}

namespace {

// The low-rank branches of a quantize report: their deployed bytes (MB, and % of the source model
// at 16 bits per parameter, its safetensors tensors counted) and their fitting time (s, and % of
// the quantization's total).
void add_branch_metrics(const nlohmann::json& r, const std::string& path,
                        std::map<std::string, double>& m) {
  double bytes = 0;
  bool any = false;
  if (auto l = r.find("linears"); l != r.end() && l->is_array())
    for (const auto& x : *l)
      if (x.is_object() && x.contains("lowrank")) {
        bytes += json_get<double>(x.at("lowrank"), "bytes", path);
        any = true;
      }
  if (!any) return;
  m["branch_mb"] = bytes / 1e6;
  if (auto d = r.find("model");
      d != r.end() && d->is_string() && fs::is_directory(d->get<std::string>())) {
    double params = 0;
    try {
      const Checkpoint source(d->get<std::string>());
      for (const auto& f : source.files())
        for (const auto& t : f.tensors()) {
          double n = 1;
          for (const int64_t s : t.shape) n *= double(s);
          params += n;
        }
    } catch (const Error&) {  // the source model moved or changed: no percentage
      params = 0;
    }
    if (params > 0) m["branch_pct"] = 100.0 * bytes / (2.0 * params);
  }
  if (auto t = r.find("timings"); t != r.end() && t->is_object() && t->contains("lowrank")) {
    const double fit = json_get<double>(*t, "lowrank", path);
    m["lowrank_seconds"] = fit;
    const double total = json_get_or<double>(*t, "total", path, 0.0);
    if (total > 0) m["lowrank_pct_time"] = 100.0 * fit / total;
  }
}

}  // namespace

std::map<std::string, double> collect_metrics(const std::string& report_path,
                                              const std::string& eval_path) {
  std::map<std::string, double> m;
  auto add_ppl = [&](const nlohmann::json& j, const std::string& path) {
    if (auto p = j.find("ppl"); p != j.end() && p->is_object())
      for (const auto& [k, v] : p->items())
        m[dataset_metric(k)] = json_value_as<double>(v, k.c_str(), path);
  };
  if (fs::exists(report_path)) {
    const nlohmann::json r = read_json_file(report_path);
    add_ppl(r, report_path);
    if (auto t = r.find("timings"); t != r.end() && t->is_object() && t->contains("total")) {
      // "total" is the quantization itself: reading, calibration, solves, writing (not "eval").
      const double total = json_get<double>(*t, "total", report_path);
      m["quant_seconds"] = total;
      m["quant_minutes"] = total / 60.0;
    }
    add_branch_metrics(r, report_path, m);
    if (auto mem = r.find("memory"); mem != r.end() && mem->contains("peak_rss"))
      m["peak_rss_gib"] = json_get<double>(*mem, "peak_rss", report_path) / double(1ull << 30);
  }
  if (fs::exists(eval_path)) {
    const nlohmann::json e = read_json_file(eval_path);
    add_ppl(e, eval_path);
    if (auto t = e.find("tasks"); t != e.end() && t->is_object())
      for (const auto& [task, v] : t->items()) {
        const bool norm = task == "arc_challenge" || task == "hellaswag";
        m[task] = 100.0 * json_get<double>(v, norm ? "acc_norm" : "acc", eval_path);
      }
    if (e.contains("acc_avg")) m["acc"] = 100.0 * json_get<double>(e, "acc_avg", eval_path);
    if (auto t = e.find("trace_mse"); t != e.end() && t->is_object() && t->contains("sublayers")) {
      const auto& rows = t->at("sublayers");
      if (!rows.is_array()) fail("{}: trace_mse.sublayers must be a list", eval_path);
      for (size_t k = 0; k < rows.size(); ++k) {  // in sub-layer order: attn, mlp of each layer
        m[fmt::format("trace_mse.{}", k)] = json_get<double>(rows[k], "mse", eval_path);
        m[fmt::format("trace_mse_norm.{}", k)] = json_get<double>(rows[k], "mse_norm", eval_path);
      }
    }
  }
  return m;
}

}  // namespace loaq::study
