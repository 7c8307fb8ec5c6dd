#include "study/results.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/json_file.h"

namespace fs = std::filesystem;

namespace loaq::study {

std::string ResultRow::get(const std::string& key) const {
  if (key == "ablation") {
    const std::string m = get("method");
    if (m != "loaq") return m;
    const bool soa = get("no-soa") != "true", noa = get("no-noa") != "true";
    return soa && noa ? "loaq" : soa ? "loaq-noa" : noa ? "loaq-soa" : "loaq-both";
  }
  if (key == "branch") {  // the low-rank branch: its rule, rank and precision
    const std::string rule = get("lowrank"), rank = get("rank"), bits = get("lowrank-bits");
    if (rule.empty() || rule == "none") return "none";
    std::string b = rule + (rank.empty() ? "" : " r=" + rank);
    if (const size_t c = bits.find(','); c != std::string::npos && bits != "16,16")
      b += " W" + bits.substr(0, c) + "A" + bits.substr(c + 1);
    return b;
  }
  auto it = settings.find(key);
  return it == settings.end() ? "" : it->second;
}

void write_grid_index(const std::string& out, const std::vector<std::string>& hashes,
                      const std::vector<std::string>& labels) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (size_t i = 0; i < hashes.size(); ++i)
    j.push_back({{"hash", hashes[i]}, {"label", labels[i]}});
  write_file_atomic((fs::path(out) / "grid.json").string(), j.dump(1) + "\n");
}

ResultSet collect_results(const std::string& out) {
  const std::string index = (fs::path(out) / "grid.json").string();
  if (!fs::exists(index))
    fail("{}: not an experiment folder (no grid.json; `loaq bench run` writes it)", out);
  const nlohmann::json g = read_json_file(index);
  if (!g.is_array()) fail("{}: expected a list of jobs", index);
  ResultSet rs;
  auto add_key = [](std::vector<std::string>& v, const std::string& k) {
    if (std::find(v.begin(), v.end(), k) == v.end()) v.push_back(k);
  };
  for (const auto& e : g) {
    const std::string hash = json_get<std::string>(e, "hash", index);
    const auto r = read_result(job_paths(out, hash).result);
    if (!r) {
      rs.missing.push_back(json_get_or<std::string>(e, "label", index, hash));
      continue;
    }
    ResultRow row;
    for (const auto& [k, v] : r->settings) {
      row.settings[k] = v;
      add_key(rs.setting_keys, k);
    }
    row.metrics = r->metrics;
    for (const auto& [k, v] : r->metrics) add_key(rs.metric_keys, k);
    row.result = *r;
    rs.rows.push_back(std::move(row));
  }
  return rs;
}

namespace {
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (const char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}
}  // namespace

std::string results_csv(const ResultSet& rs) {
  std::string s = "hash,label,status,attempts";
  for (const auto& k : rs.setting_keys) s.append(",").append(csv_field(k));
  for (const auto& k : rs.metric_keys) s.append(",").append(csv_field(k));
  s += ",quantize_seconds,eval_seconds,peak_rss_bytes,error\n";
  for (const auto& r : rs.rows) {
    s += fmt::format("{},{},{},{}", r.result.hash, csv_field(r.result.label), r.result.status,
                     r.result.attempts);
    for (const auto& k : rs.setting_keys) s.append(",").append(csv_field(r.get(k)));
    for (const auto& k : rs.metric_keys) {
      auto it = r.metrics.find(k);
      s += it == r.metrics.end() ? std::string(",") : fmt::format(",{:.17g}", it->second);
    }
    s += fmt::format(",{:.3f},{:.3f},{:.0f},{}\n", r.result.quantize_seconds, r.result.eval_seconds,
                     r.result.peak_rss_bytes, csv_field(r.result.error));
  }
  return s;
}

std::string results_json(const ResultSet& rs) {
  nlohmann::ordered_json j;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& r : rs.rows) {
    nlohmann::ordered_json o;
    o["hash"] = r.result.hash;
    o["label"] = r.result.label;
    o["status"] = r.result.status;
    o["attempts"] = r.result.attempts;
    if (!r.result.ok()) o["error"] = r.result.error;
    o["settings"] = r.settings;
    o["metrics"] = r.metrics;
    o["timings"] = {{"quantize_seconds", r.result.quantize_seconds},
                    {"eval_seconds", r.result.eval_seconds}};
    o["peak_rss_bytes"] = r.result.peak_rss_bytes;
    rows.push_back(o);
  }
  j["jobs"] = rows;
  j["missing"] = rs.missing;
  return j.dump(2) + "\n";
}

}  // namespace loaq::study
