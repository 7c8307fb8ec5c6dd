#include "study/experiment.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "study/options.h"

namespace loaq::study {
namespace {

const std::vector<std::string> kTasks = {"arc_easy", "arc_challenge", "piqa", "hellaswag",
                                         "winogrande"};
const std::vector<std::string> kTableKinds = {"methods", "side_by_side", "ablation", "overhead"};

struct Ctx {
  std::string where;
  [[noreturn]] void bad(const YAML::Node& n, const std::string& key,
                        const std::string& what) const {
    const auto m = n.Mark();
    if (m.line >= 0) fail("{}:{}: {}: {}", where, m.line + 1, key, what);
    fail("{}: {}: {}", where, key, what);
  }
  std::string scalar(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) bad(n, key, "expected a single value");
    return n.Scalar();
  }
  int integer(const YAML::Node& n, const std::string& key, int lo, int hi) const {
    const std::string s = scalar(n, key);
    try {
      size_t used = 0;
      const long v = std::stol(s, &used);
      if (used == s.size() && v >= lo && v <= hi) return int(v);
    } catch (const std::exception&) {
    }
    bad(n, key, fmt::format("expected an integer in [{}, {}] (found '{}')", lo, hi, s));
  }
  bool boolean(const YAML::Node& n, const std::string& key) const {
    const std::string s = scalar(n, key);
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    bad(n, key, fmt::format("expected true or false (found '{}')", s));
  }
  // A scalar or a list of scalars.
  std::vector<std::string> list(const YAML::Node& n, const std::string& key) const {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
    } else if (n.IsSequence()) {
      if (n.size() == 0) bad(n, key, "empty list");
      for (const auto& e : n) out.push_back(scalar(e, key));
    } else {
      bad(n, key, "expected a value or a list of values");
    }
    return out;
  }
  void only_keys(const YAML::Node& map, const std::string& section,
                 const std::vector<std::string>& allowed) const {
    if (!map.IsMap()) bad(map, section, "expected a mapping (key: value)");
    for (const auto& kv : map) {
      const std::string k = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        bad(kv.first, section.empty() ? k : section + "." + k,
            fmt::format("unknown key (expected one of: {})", list));
      }
    }
  }
};

std::map<std::string, std::string> parse_where(const Ctx& c, const YAML::Node& n,
                                               const std::string& key) {
  std::map<std::string, std::string> out;
  if (!n) return out;
  if (!n.IsMap()) c.bad(n, key, "expected a mapping of setting: value");
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    if (k != "model" && k != "seed") k = normalize_option_name(k);
    out[k] = c.scalar(kv.second, key + "." + k);
  }
  return out;
}

TableSpec parse_table(const Ctx& c, const YAML::Node& n, const std::string& key) {
  c.only_keys(
      n, key,
      {"name", "title", "kind", "rows", "sections", "side_by_side", "columns", "where", "digits"});
  TableSpec t;
  if (!n["name"]) c.bad(n, key, "missing 'name'");
  t.name = c.scalar(n["name"], key + ".name");
  t.kind = n["kind"] ? c.scalar(n["kind"], key + ".kind") : "methods";
  if (std::find(kTableKinds.begin(), kTableKinds.end(), t.kind) == kTableKinds.end())
    c.bad(n["kind"], key + ".kind",
          "expected methods, side_by_side, ablation or overhead (found '" + t.kind + "')");
  if (n["title"]) t.title = c.scalar(n["title"], key + ".title");
  if (n["rows"]) t.rows = normalize_option_name(c.scalar(n["rows"], key + ".rows"));
  if (n["sections"]) t.sections = normalize_option_name(c.scalar(n["sections"], key + ".sections"));
  if (n["side_by_side"])
    t.side_by_side = normalize_option_name(c.scalar(n["side_by_side"], key + ".side_by_side"));
  if (n["columns"]) t.columns = c.list(n["columns"], key + ".columns");
  t.where = parse_where(c, n["where"], key + ".where");
  if (n["digits"]) t.digits = c.integer(n["digits"], key + ".digits", 0, 6);
  // The kind's defaults.
  if (t.rows.empty()) t.rows = t.kind == "ablation" ? "ablation" : "method";
  if (t.sections.empty() && t.kind != "overhead") t.sections = "model";
  if (t.side_by_side.empty() && t.kind == "overhead") t.side_by_side = "model";
  if (t.kind == "side_by_side" && t.side_by_side.empty())
    c.bad(n, key, "a side_by_side table needs 'side_by_side: KEY' (e.g. rotate, wbits, grid)");
  if (t.columns.empty() && t.kind == "overhead") t.columns = {"quant_minutes"};
  if (t.title.empty()) t.title = t.name;
  return t;
}

FigureSpec parse_figure(const Ctx& c, const YAML::Node& n, const std::string& key) {
  c.only_keys(n, key, {"name", "title", "x", "y", "series", "reference", "where", "logy"});
  FigureSpec f;
  if (!n["name"]) c.bad(n, key, "missing 'name'");
  if (!n["x"]) c.bad(n, key, "missing 'x' (the option on the horizontal axis, e.g. alpha)");
  f.name = c.scalar(n["name"], key + ".name");
  f.x = normalize_option_name(c.scalar(n["x"], key + ".x"));
  if (n["y"]) f.y = c.scalar(n["y"], key + ".y");
  if (n["series"]) f.series = normalize_option_name(c.scalar(n["series"], key + ".series"));
  if (n["reference"]) f.reference = c.scalar(n["reference"], key + ".reference");
  if (n["title"]) f.title = c.scalar(n["title"], key + ".title");
  if (n["logy"]) f.logy = c.boolean(n["logy"], key + ".logy");
  f.where = parse_where(c, n["where"], key + ".where");
  if (f.title.empty()) f.title = f.name;
  return f;
}

void check_name(const Ctx& c, const YAML::Node& n, const std::string& key, const std::string& s) {
  if (s.empty() || s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789-_.") != std::string::npos)
    c.bad(n, key, "'" + s + "' must be a non-empty name of letters, digits, '-', '_', '.'");
}

}  // namespace

std::string dataset_metric(const std::string& dataset) {
  if (dataset.find('/') == std::string::npos && dataset.find('.') == std::string::npos)
    return dataset;
  return std::filesystem::path(dataset).stem().string();
}

bool is_known_metric(const std::string& m, const EvalSpec& eval) {
  if (m == "acc" || m == "quant_minutes" || m == "quant_seconds" || m == "peak_rss_gib" ||
      m == "branch_mb" || m == "branch_pct" || m == "lowrank_seconds" || m == "lowrank_pct_time")
    return true;
  if (eval.trace && (m == "trace_mse" || m == "trace_mse_norm")) return true;
  for (const auto& d : eval.ppl)
    if (dataset_metric(d) == m) return true;
  return std::find(eval.tasks.begin(), eval.tasks.end(), m) != eval.tasks.end();
}

Experiment parse_experiment(const std::string& text, const std::string& where) {
  Ctx c{where};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail("{}:{}: invalid YAML: {}", where, e.mark.line + 1, e.msg);
  }
  if (!root.IsMap()) fail("{}: expected a mapping at the top level (name:, models:, ...)", where);
  c.only_keys(root, "",
              {"name", "description", "out", "models", "seeds", "quantize", "eval", "keep_models",
               "report"});
  Experiment e;
  e.file = where;
  if (!root["name"]) fail("{}: missing 'name'", where);
  e.name = c.scalar(root["name"], "name");
  check_name(c, root["name"], "name", e.name);
  if (root["description"]) e.description = c.scalar(root["description"], "description");
  e.out = root["out"] ? c.scalar(root["out"], "out") : "bench-out/" + e.name;
  if (!root["models"]) fail("{}: missing 'models' (a list of model folders)", where);
  e.models = c.list(root["models"], "models");
  if (root["seeds"]) {
    e.seeds.clear();
    for (const auto& s : c.list(root["seeds"], "seeds")) {
      try {
        size_t used = 0;
        const unsigned long long v = std::stoull(s, &used);
        if (used != s.size() || s[0] == '-') throw std::invalid_argument(s);
        e.seeds.push_back(v);
      } catch (const std::exception&) {
        c.bad(root["seeds"], "seeds", "expected non-negative integers (found '" + s + "')");
      }
    }
  }
  if (!root["quantize"]) fail("{}: missing 'quantize' (at least method: ...)", where);
  const YAML::Node q = root["quantize"];
  if (!q.IsMap()) c.bad(q, "quantize", "expected a mapping of option: value or [values]");
  std::set<std::string> seen;
  for (const auto& kv : q) {
    const std::string raw = kv.first.Scalar();
    const std::string name = normalize_option_name(raw);
    const auto& res = reserved_options();
    if (std::find(res.begin(), res.end(), name) != res.end())
      c.bad(kv.first, "quantize." + raw,
            name == "seed" ? "set calibration seeds with the top-level 'seeds:'"
                           : "set by the job runner; an experiment may not set it");
    const auto opt = find_quantize_option(name);
    if (!opt) {
      std::string known;
      for (const auto& o : quantize_options()) known += (known.empty() ? "" : ", ") + o.name;
      c.bad(kv.first, "quantize." + raw, "unknown quantize option (known: " + known + ")");
    }
    if (!seen.insert(name).second) c.bad(kv.first, "quantize." + raw, "given twice");
    Axis a{name, c.list(kv.second, "quantize." + raw)};
    if (opt->flag)
      for (auto& v : a.values) {
        if (v == "true" || v == "yes" || v == "on")
          v = "true";
        else if (v == "false" || v == "no" || v == "off")
          v = "false";
        else
          c.bad(kv.second, "quantize." + raw, "a switch takes true or false (found '" + v + "')");
      }
    std::set<std::string> uniq(a.values.begin(), a.values.end());
    if (uniq.size() != a.values.size()) c.bad(kv.second, "quantize." + raw, "repeated value");
    e.quantize.push_back(std::move(a));
  }
  if (!seen.count("method")) c.bad(q, "quantize", "missing 'method'");
  if (const YAML::Node ev = root["eval"]) {
    c.only_keys(ev, "eval",
                {"ppl", "seqlen", "max_windows", "tasks", "limit", "no_bos", "batch_tokens",
                 "trace", "trace_windows"});
    if (ev["ppl"]) e.eval.ppl = c.list(ev["ppl"], "eval.ppl");
    if (ev["seqlen"]) e.eval.seqlen = c.integer(ev["seqlen"], "eval.seqlen", 2, 1 << 20);
    if (ev["max_windows"])
      e.eval.max_windows = c.integer(ev["max_windows"], "eval.max_windows", 0, 1 << 30);
    if (ev["tasks"]) {
      e.eval.tasks = c.list(ev["tasks"], "eval.tasks");
      for (const auto& t : e.eval.tasks)
        if (std::find(kTasks.begin(), kTasks.end(), t) == kTasks.end())
          c.bad(ev["tasks"], "eval.tasks",
                "unknown task '" + t +
                    "' (expected arc_easy, arc_challenge, piqa, hellaswag, winogrande)");
    }
    if (ev["limit"]) e.eval.limit = c.integer(ev["limit"], "eval.limit", 0, 1 << 30);
    if (ev["no_bos"]) e.eval.no_bos = c.boolean(ev["no_bos"], "eval.no_bos");
    if (ev["batch_tokens"])
      e.eval.batch_tokens = c.integer(ev["batch_tokens"], "eval.batch_tokens", 1, 1 << 30);
    if (ev["trace"]) e.eval.trace = c.boolean(ev["trace"], "eval.trace");
    if (ev["trace_windows"])
      e.eval.trace_windows = c.integer(ev["trace_windows"], "eval.trace_windows", 0, 1 << 20);
  }
  if (root["keep_models"]) e.keep_models = c.boolean(root["keep_models"], "keep_models");
  if (const YAML::Node r = root["report"]) {
    c.only_keys(r, "report", {"tables", "figures"});
    std::set<std::string> names;
    auto add_name = [&](const YAML::Node& n, const std::string& key, const std::string& s) {
      check_name(c, n, key, s);
      if (!names.insert(s).second) c.bad(n, key, "name '" + s + "' used twice");
    };
    if (const YAML::Node ts = r["tables"]) {
      if (!ts.IsSequence()) c.bad(ts, "report.tables", "expected a list of tables");
      for (size_t i = 0; i < ts.size(); ++i) {
        const std::string key = fmt::format("report.tables[{}]", i);
        e.tables.push_back(parse_table(c, ts[i], key));
        add_name(ts[i], key + ".name", e.tables.back().name);
        auto& cols = e.tables.back().columns;
        if (cols.empty()) {  // the kind's default: the perplexities, (the tasks,) Acc
          for (const auto& d : e.eval.ppl) cols.push_back(dataset_metric(d));
          if (e.tables.back().kind == "methods")
            cols.insert(cols.end(), e.eval.tasks.begin(), e.eval.tasks.end());
          if (!e.eval.tasks.empty()) cols.push_back("acc");
        }
        if (cols.empty()) c.bad(ts[i], key + ".columns", "no metric of this table is measured");
        for (const auto& m : cols)
          if (!is_known_metric(m, e.eval))
            c.bad(ts[i], key + ".columns",
                  "metric '" + m +
                      "' is not measured by this experiment (eval.ppl datasets, eval.tasks, acc, "
                      "quant_minutes, quant_seconds, peak_rss_gib)");
      }
    }
    if (const YAML::Node fs = r["figures"]) {
      if (!fs.IsSequence()) c.bad(fs, "report.figures", "expected a list of figures");
      for (size_t i = 0; i < fs.size(); ++i) {
        const std::string key = fmt::format("report.figures[{}]", i);
        e.figures.push_back(parse_figure(c, fs[i], key));
        add_name(fs[i], key + ".name", e.figures.back().name);
        const FigureSpec& f = e.figures.back();
        if (!is_known_metric(f.y, e.eval))
          c.bad(fs[i], key + ".y", "metric '" + f.y + "' is not measured");
        const bool traced = f.y == "trace_mse" || f.y == "trace_mse_norm";
        if (traced != (f.x == "sublayer" || f.x == "layer"))
          c.bad(fs[i], key + ".x",
                "a traced metric (trace_mse, trace_mse_norm) is drawn against x: sublayer or x: "
                "layer, and only it");
      }
    }
  }
  return e;
}

Experiment load_experiment(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot read the experiment file", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_experiment(ss.str(), path);
}

}  // namespace loaq::study
