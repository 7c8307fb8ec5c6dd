#include "study/grid.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "study/hash.h"
#include "study/options.h"

namespace fs = std::filesystem;

namespace loaq::study {
namespace {

struct Model {
  std::string name, path, key;
};

Model resolve_model(const std::string& name, const std::string& exp_file, const std::string& assets,
                    bool allow_missing) {
  if (name.empty()) fail("{}: models: an empty model name", exp_file);
  // Every file system call takes an error code: a name the OS refuses (too long, a NUL) is a
  // missing model, never an exception.
  std::error_code ec;
  if (name.find('/') == std::string::npos) {
    const fs::path p = fs::path(assets) / "models" / name;
    if (fs::is_directory(p, ec)) return {name, p.lexically_normal().string(), "assets:" + name};
  }
  fs::path p(name);
  if (p.is_relative()) p = fs::path(exp_file).parent_path() / p;
  fs::path abs = fs::absolute(p, ec);
  if (!ec) abs = fs::weakly_canonical(abs, ec);
  const std::string path = ec ? p.string() : abs.string();
  if (!fs::is_directory(path, ec) && !allow_missing)
    fail("{}: models: '{}' is neither a folder under {}/models nor a model folder ({})", exp_file,
         name, assets, path);
  return {name, path, path};
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Why option `name` does not apply to the job with `set` (the settings given), or "".
std::string not_applicable(const QuantizeOption& o, const std::map<std::string, std::string>& set) {
  const std::string m = set.count("method") ? set.at("method") : "";
  if (o.name == "method") return "";
  if (o.methods.empty() ? m == "none" : !contains(o.methods, m))
    return fmt::format("{} does not apply to method {}", o.name, m);
  auto val = [&](const char* k) { return set.count(k) ? set.at(k) : std::string(); };
  if (o.name == "rotate-seed" && val("rotate") != "hadamard")
    return "rotate-seed applies only with rotate hadamard";
  if (o.name == "a-clip" && (val("abits").empty() || val("abits") == "16"))
    return "a-clip applies only with abits < 16";
  if (o.name == "beta" && val("no-soa") == "true") return "beta does not apply with no-soa (β = 0)";
  const std::string lr = val("lowrank");
  if ((o.name != "lowrank" && o.name.rfind("lowrank", 0) == 0) || o.name == "rank") {
    if (lr.empty() || lr == "none")
      return fmt::format("{} applies only with a lowrank branch", o.name);
    const bool descent = o.name == "lowrank-weighted" || o.name == "lowrank-steps" ||
                         o.name == "lowrank-lr" || o.name == "lowrank-patience";
    if (descent && lr != "loaq") return fmt::format("{} applies only with lowrank loaq", o.name);
  }
  return "";
}

// Why a combination of settings is invalid, or "".
std::string invalid(const std::map<std::string, std::string>& set) {
  auto val = [&](const char* k) { return set.count(k) ? set.at(k) : std::string(); };
  if (val("mse") == "true" && !val("grid").empty() && val("grid") != "minmax" &&
      val("grid") != "mse")
    return fmt::format("mse means grid mse; it conflicts with grid {}", val("grid"));
  if (val("static-groups") == "true" && (val("group").empty() || val("group") == "-1"))
    return "static-groups needs a group size (group > 0)";
  return "";
}

std::string canonical_eval(const EvalSpec& e) {
  std::string s = "eval.ppl=";
  for (const auto& d : e.ppl) s += d + ",";
  s += fmt::format("\neval.seqlen={}\neval.max_windows={}\neval.tasks=", e.seqlen, e.max_windows);
  for (const auto& t : e.tasks) s += t + ",";
  s += fmt::format("\neval.limit={}\neval.no_bos={}\neval.batch_tokens={}\n", e.limit, e.no_bos,
                   e.batch_tokens);
  return s;
}

}  // namespace

std::string Job::get(const std::string& key) const {
  if (key == "model") return model_name;
  if (key == "seed") return seeded ? std::to_string(seed) : "";
  for (const auto& [k, v] : options)
    if (k == key) return v;
  return "";
}

JobGrid expand_grid(const Experiment& e, const std::string& assets, bool allow_missing_models) {
  // A grid is a product: bound it before expanding it (a few lists of a hostile or mistyped file
  // would otherwise ask for billions of jobs).
  const double jobs = grid_size(e);
  if (jobs > double(kMaxGridJobs))
    fail(
        "{}: the grid has {:.4g} jobs (models × seeds × every quantize list); at most {} are "
        "supported",
        e.file, jobs, kMaxGridJobs);
  std::vector<Model> models;
  for (const auto& m : e.models)
    models.push_back(resolve_model(m, e.file, assets, allow_missing_models));
  JobGrid g;
  std::map<std::string, size_t> by_canonical;
  const std::string eval_text = canonical_eval(e.eval);
  // Odometer over the quantize axes.
  std::vector<size_t> idx(e.quantize.size(), 0);
  for (const auto& model : models) {
    std::fill(idx.begin(), idx.end(), 0);
    for (bool more = true; more;) {
      std::map<std::string, std::string> set;
      for (size_t a = 0; a < e.quantize.size(); ++a)
        set[e.quantize[a].key] = e.quantize[a].values[idx[a]];
      for (const uint64_t seed : e.seeds) {
        Job j;
        j.model = model.path;
        j.model_name = model.name;
        j.seed = seed;
        std::string label = set.at("method"), removed;
        if (models.size() > 1) label = model.name + " " + label;
        std::string resolved_label = label;  // without the options that do not apply
        for (const auto& o : quantize_options()) {
          auto it = set.find(o.name);
          if (it == set.end()) continue;
          const bool varies = std::any_of(e.quantize.begin(), e.quantize.end(), [&](const Axis& a) {
            return a.key == o.name && a.values.size() > 1;
          });
          if (varies && o.name != "method") label += " " + o.name + "=" + it->second;
          if (const std::string why = not_applicable(o, set); !why.empty()) {
            removed += (removed.empty() ? "" : "; ") + why;
            continue;
          }
          if (varies && o.name != "method") resolved_label += " " + o.name + "=" + it->second;
          if (o.flag && it->second == "false") continue;  // a switch left off is the default
          j.options.emplace_back(o.name, it->second);
        }
        const std::string method = set.at("method");
        const std::string grid = set.count("grid") ? set.at("grid") : "";
        const std::string lr = set.count("lowrank") ? set.at("lowrank") : "none";
        const bool branch_data =
            lr == "lqer" || lr == "qera" ||
            (lr == "loaq" && set.count("lowrank-weighted") && set.at("lowrank-weighted") == "true");
        j.seeded =
            method != "none" && !(method == "rtn" && grid.rfind("neuqi", 0) != 0 && !branch_data);
        if (e.seeds.size() > 1) label += fmt::format(" seed={}", seed);
        if (e.seeds.size() > 1 && j.seeded) resolved_label += fmt::format(" seed={}", seed);
        if (!j.seeded && e.seeds.size() > 1) {
          removed += std::string(removed.empty() ? "" : "; ") +
                     fmt::format("the calibration seed does not matter to {}", method);
          j.seed = 0;
        }
        j.label = resolved_label;
        if (const std::string why = invalid(set); !why.empty()) {
          g.dropped.push_back({label, why});
          continue;
        }
        j.canonical = "loaq-bench-job 1\nmodel=" + model.key +
                      "\nseed=" + (j.seeded ? std::to_string(j.seed) : "-") + "\n";
        for (const auto& [k, v] : j.options) j.canonical += k + "=" + v + "\n";
        j.canonical += eval_text;
        if (auto it = by_canonical.find(j.canonical); it != by_canonical.end()) {
          g.dropped.push_back({label, fmt::format("same resolved settings as job '{}' ({})",
                                                  g.jobs[it->second].label, removed)});
          continue;
        }
        j.hash = hash_hex(j.canonical);
        by_canonical[j.canonical] = g.jobs.size();
        g.jobs.push_back(std::move(j));
      }
      // Next combination (last axis fastest).
      more = false;
      for (size_t a = e.quantize.size(); a-- > 0;) {
        if (++idx[a] < e.quantize[a].values.size()) {
          more = true;
          break;
        }
        idx[a] = 0;
      }
    }
  }
  return g;
}

std::vector<std::string> quantize_args(const Job& j) {
  std::vector<std::string> a = {"quantize", "--model", j.model};
  for (const auto& [k, v] : j.options) {
    const auto o = find_quantize_option(k);
    a.push_back("--" + k);
    if (!o || !o->flag) a.push_back(v);
  }
  if (j.seeded) {
    a.push_back("--seed");
    a.push_back(std::to_string(j.seed));
  }
  return a;
}

std::vector<std::string> eval_args(const Job& j, const EvalSpec& e) {
  if (e.ppl.empty() && e.tasks.empty() && !e.trace) return {};
  std::vector<std::string> a = {"eval"};
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  if (!e.ppl.empty()) a.insert(a.end(), {"--ppl", join(e.ppl)});
  if (!e.tasks.empty()) a.insert(a.end(), {"--tasks", join(e.tasks)});
  if (e.limit > 0) a.insert(a.end(), {"--limit", std::to_string(e.limit)});
  const std::string seqlen = e.seqlen > 0 ? std::to_string(e.seqlen) : j.get("seqlen");
  if (!seqlen.empty()) a.insert(a.end(), {"--seqlen", seqlen});
  if (e.max_windows > 0) a.insert(a.end(), {"--max-windows", std::to_string(e.max_windows)});
  if (e.batch_tokens > 0) a.insert(a.end(), {"--batch-tokens", std::to_string(e.batch_tokens)});
  if (e.no_bos) a.push_back("--no-bos");
  if (e.trace) a.insert(a.end(), {"--trace-mse", j.model});
  if (e.trace_windows > 0) a.insert(a.end(), {"--trace-windows", std::to_string(e.trace_windows)});
  return a;
}

bool job_matches(const Job& j, const std::string& filter) {
  if (filter.empty()) return true;
  if (filter.find('=') == std::string::npos)
    return j.hash.rfind(filter, 0) == 0 || j.label.find(filter) != std::string::npos;
  size_t b = 0;
  while (b < filter.size()) {
    const size_t e = std::min(filter.find(',', b), filter.size());
    const std::string pair = filter.substr(b, e - b);
    const size_t eq = pair.find('=');
    if (eq == std::string::npos) fail("--only: '{}' is not key=value", pair);
    std::string key = pair.substr(0, eq);
    if (key != "model" && key != "seed") key = normalize_option_name(key);
    if (j.get(key) != pair.substr(eq + 1)) return false;
    b = e + 1;
  }
  return true;
}

}  // namespace loaq::study
