#include "study/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"

namespace loaq::study {
namespace {

template <class F>
std::vector<std::string> distinct(const std::vector<const ResultRow*>& rows, F f) {
  std::vector<std::string> out;
  for (const auto* r : rows) {
    const std::string v = f(*r);
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

double rounded(double x, int digits) {
  const double s = std::pow(10.0, digits);
  return std::round(x * s) / s;
}

// Bold the best cell of every column of a block.
void mark_best(TableBlock& b, const std::vector<std::string>& columns, size_t ngroups, int digits) {
  for (size_t g = 0; g < ngroups; ++g)
    for (size_t c = 0; c < columns.size(); ++c) {
      const size_t col = g * columns.size() + c;
      const bool lower = lower_is_better(columns[c]);
      const TableCell* best = nullptr;
      auto better = [&](const TableCell& a, const TableCell& x) {  // a strictly better than x
        const double ma = rounded(a.stat.mean, digits), mx = rounded(x.stat.mean, digits);
        if (ma != mx) return lower ? ma < mx : ma > mx;
        return rounded(a.stat.sd, digits) < rounded(x.stat.sd, digits);
      };
      for (const auto& row : b.cells)
        if (row[col].present && (!best || better(row[col], *best))) best = &row[col];
      if (!best) continue;
      for (auto& row : b.cells)
        if (row[col].present && !better(*best, row[col])) row[col].bold = true;
    }
}

std::string format_cell(const TableCell& c, int digits, int max_n, bool latex) {
  if (!c.present) return latex ? "--" : "–";
  std::string s = fmt::format("{:.{}f}", c.stat.mean, digits);
  if (c.stat.n > 1) s += (latex ? " $\\pm$ " : " ± ") + fmt::format("{:.{}f}", c.stat.sd, digits);
  if (c.stat.n < max_n)
    s += latex ? fmt::format(" ($n={}$)", c.stat.n) : fmt::format(" (n={})", c.stat.n);
  if (c.bold) s = latex ? "\\textbf{" + s + "}" : "**" + s + "**";
  return s;
}

std::string latex_escape(const std::string& s) {
  std::string o;
  for (const char ch : s) {
    if (ch == '_' || ch == '%' || ch == '&' || ch == '#' || ch == '$') o += '\\';
    o += ch;
  }
  return o;
}

std::string notes_text(const Table& t) {
  std::string seeds;
  for (const long s : t.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s);
  std::string n =
      t.max_n > 1
          ? fmt::format("Mean ± sample sd over {} calibration seeds ({}); ", t.max_n, seeds)
          : std::string(seeds.empty() ? "One run per cell; " : "One seed (" + seeds + "); ");
  n += "best per column in bold (equal printed means: the smaller sd).";
  for (const auto& x : t.notes) n += " " + x;
  return n;
}

}  // namespace

bool lower_is_better(const std::string& m) {
  static const std::set<std::string> higher = {"acc",  "arc_easy",  "arc_challenge",
                                               "piqa", "hellaswag", "winogrande"};
  return !higher.count(m);
}

std::string display_metric(const std::string& m) {
  static const std::vector<std::pair<std::string, std::string>> names = {
      {"wikitext2", "Wiki2"},
      {"c4", "C4"},
      {"ptb", "PTB"},
      {"arc_easy", "ArcE"},
      {"arc_challenge", "ArcC"},
      {"piqa", "PiQA"},
      {"hellaswag", "HellaS"},
      {"winogrande", "WinoG"},
      {"acc", "Acc"},
      {"quant_minutes", "minutes"},
      {"quant_seconds", "seconds"},
      {"peak_rss_gib", "peak GiB"},
      {"branch_mb", "branch MB"},
      {"branch_pct", "branch % of model"},
      {"lowrank_seconds", "fit s"},
      {"lowrank_pct_time", "fit % of run"},
      {"trace_mse", "MSE"},
      {"trace_mse_norm", "normalized MSE"}};
  std::string n = m;
  for (const auto& [k, v] : names)
    if (k == m) n = v;
  return n + (lower_is_better(m) ? "↓" : "↑");
}

std::string display_value(const std::string& key, const std::string& v) {
  if (key == "method" || key == "ablation") {
    static const std::vector<std::pair<std::string, std::string>> names = {
        {"none", "Full precision"}, {"rtn", "RTN"},       {"gptq", "GPTQ"},
        {"gptaq", "GPTAQ"},         {"qronos", "Qronos"}, {"loaq", "LoaQ"},
        {"loaq-soa", "−SOA"},       {"loaq-noa", "−NOA"}, {"loaq-both", "−both"}};
    for (const auto& [k, d] : names)
      if (k == v) return d;
    return v;
  }
  if (key == "branch") return v == "none" ? "no branch" : v;
  if (key == "wbits") return v + "-bit";
  if (key == "rotate") return v == "hadamard" ? "Hadamard" : v == "none" ? "No transform" : v;
  if (key == "grid") return v == "minmax" ? "Min-max" : v == "neuqi" ? "NeUQI" : v;
  if (key == "model") return v;
  if (key == "abits") return v == "16" ? "W-only" : "A" + v;
  if (v.empty()) return key + " n/a";  // the key does not apply to the row (GPTQ and alpha)
  return key + "=" + v;
}

Table build_table(const TableSpec& spec, const ResultSet& rs) {
  Table t;
  t.name = spec.name;
  t.title = spec.title;
  t.columns = spec.columns;
  t.digits = spec.digits;
  t.row_header = spec.rows == "method" || spec.rows == "ablation" ? "Method" : spec.rows;
  std::vector<const ResultRow*> rows;
  int failed = 0;
  std::set<long> seeds;
  for (const auto& r : rs.rows) {
    bool match = true;
    for (const auto& [k, v] : spec.where) match = match && r.get(k) == v;
    if (!match) continue;
    if (!r.result.ok()) {
      ++failed;
      continue;
    }
    if (!r.get("seed").empty()) seeds.insert(std::stol(r.get("seed")));
    rows.push_back(&r);
  }
  t.seeds.assign(seeds.begin(), seeds.end());
  if (failed > 0) t.notes.push_back(fmt::format("{} failed job(s) left out.", failed));
  if (!rs.missing.empty())
    t.notes.push_back(fmt::format("{} job(s) of the grid have not run.", rs.missing.size()));
  auto val = [](const std::string& key) {
    return [key](const ResultRow& r) { return key.empty() ? std::string() : r.get(key); };
  };
  const auto sections = distinct(rows, val(spec.sections));
  const auto groups = distinct(rows, val(spec.side_by_side));
  for (const auto& g : groups)
    t.groups.push_back(spec.side_by_side.empty() ? "" : display_value(spec.side_by_side, g));
  for (const auto& sec : sections) {
    TableBlock b;
    b.section = spec.sections.empty() ? "" : display_value(spec.sections, sec);
    std::vector<const ResultRow*> in_sec;
    for (const auto* r : rows)
      if (val(spec.sections)(*r) == sec) in_sec.push_back(r);
    std::vector<std::string> row_values = distinct(in_sec, val(spec.rows));
    if (spec.rows == "ablation") {  // the paper's order: LoaQ, −SOA, −NOA, −both
      static const std::vector<std::string> order = {"loaq", "loaq-soa", "loaq-noa", "loaq-both"};
      auto rank = [](const std::string& v) {
        const auto it = std::find(order.begin(), order.end(), v);
        return it == order.end() ? -1 : int(it - order.begin());
      };
      std::stable_sort(
          row_values.begin(), row_values.end(),
          [&](const std::string& x, const std::string& y) { return rank(x) < rank(y); });
    }
    for (const auto& rv : row_values) {
      b.rows.push_back(display_value(spec.rows, rv));
      std::vector<TableCell> line;
      for (const auto& g : groups) {
        std::vector<const ResultRow*> cell;
        for (const auto* r : in_sec)
          if (val(spec.rows)(*r) == rv && val(spec.side_by_side)(*r) == g) cell.push_back(r);
        // Every run of a cell must have the same settings but the seed.
        for (const auto* r : cell)
          for (const auto& k : rs.setting_keys) {
            if (k == "seed") continue;
            if (r->get(k) != cell.front()->get(k))
              fail(
                  "table {}: the cell ({}, {}) mixes runs that differ in '{}' ({} and {}); make "
                  "'{}' the rows, sections or side_by_side key, or select one value with "
                  "'where'",
                  spec.name, display_value(spec.rows, rv), g.empty() ? "-" : g, k,
                  cell.front()->get(k).empty() ? "unset" : cell.front()->get(k),
                  r->get(k).empty() ? "unset" : r->get(k), k);
          }
        for (const auto& m : spec.columns) {
          std::vector<double> v;
          for (const auto* r : cell)
            if (auto it = r->metrics.find(m); it != r->metrics.end()) v.push_back(it->second);
          TableCell c;
          c.present = !v.empty();
          c.stat = mean_sd(v);
          t.max_n = std::max(t.max_n, c.stat.n);
          line.push_back(c);
        }
      }
      b.cells.push_back(std::move(line));
    }
    mark_best(b, spec.columns, groups.size(), spec.digits);
    t.blocks.push_back(std::move(b));
  }
  if (groups.empty()) t.groups.push_back("");
  return t;
}

std::string table_markdown(const Table& t) {
  std::string s = fmt::format("**{}**\n\n| {} |", t.title, t.row_header);
  for (const auto& g : t.groups)
    for (const auto& c : t.columns)
      s += fmt::format(" {}{}{} |", g, g.empty() ? "" : " ", display_metric(c));
  s += "\n|---|";
  for (size_t i = 0; i < t.groups.size() * t.columns.size(); ++i) s += "---|";
  s += "\n";
  for (const auto& b : t.blocks) {
    if (!b.section.empty()) {
      s += fmt::format("| *{}* |", b.section);
      for (size_t i = 0; i < t.groups.size() * t.columns.size(); ++i) s += " |";
      s += "\n";
    }
    for (size_t r = 0; r < b.rows.size(); ++r) {
      s += fmt::format("| {} |", b.rows[r]);
      for (const auto& c : b.cells[r])
        s += fmt::format(" {} |", format_cell(c, t.digits, t.max_n, false));
      s += "\n";
    }
  }
  s += fmt::format("\n{}\n", notes_text(t));
  return s;
}

std::string table_latex(const Table& t) {
  const size_t ncol = t.groups.size() * t.columns.size();
  std::string s = "% generated by loaq bench report\n\\begin{table}[t]\n\\centering\n";
  s += "\\begin{tabular}{l" + std::string(ncol, 'r') + "}\n\\toprule\n";
  if (t.groups.size() > 1 || !t.groups[0].empty()) {
    s += " ";
    for (const auto& g : t.groups)
      s += fmt::format(" & \\multicolumn{{{}}}{{c}}{{{}}}", t.columns.size(), latex_escape(g));
    s += " \\\\\n";
  }
  s += latex_escape(t.row_header);
  for (size_t g = 0; g < t.groups.size(); ++g)
    for (const auto& c : t.columns) {
      std::string m = display_metric(c);
      const bool down = lower_is_better(c);
      m = m.substr(0, m.size() - std::string("↓").size());
      s += " & " + latex_escape(m) + (down ? "$\\downarrow$" : "$\\uparrow$");
    }
  s += " \\\\\n\\midrule\n";
  for (const auto& b : t.blocks) {
    if (!b.section.empty())
      s += fmt::format("\\multicolumn{{{}}}{{l}}{{\\textit{{{}}}}} \\\\\n", ncol + 1,
                       latex_escape(b.section));
    for (size_t r = 0; r < b.rows.size(); ++r) {
      std::string row = b.rows[r];
      if (row.rfind("−", 0) == 0) row = "$-$" + row.substr(std::string("−").size());
      s += latex_escape(row);
      for (const auto& c : b.cells[r]) s += " & " + format_cell(c, t.digits, t.max_n, true);
      s += " \\\\\n";
    }
  }
  std::string notes = notes_text(t);
  for (size_t p; (p = notes.find("±")) != std::string::npos;) notes.replace(p, 2, "$\\pm$");
  s += "\\bottomrule\n\\end{tabular}\n\\caption{" + latex_escape(t.title) + ". " + notes +
       "}\n\\label{tab:" + t.name + "}\n\\end{table}\n";
  return s;
}

}  // namespace loaq::study
