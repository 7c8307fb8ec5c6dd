#include "study/figure.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "io/atomic_file.h"
#include "study/subprocess.h"
#include "study/table.h"

namespace fs = std::filesystem;

namespace loaq::study {
namespace {

double parse_x(const std::string& v, const std::string& fig, const std::string& key) {
  try {
    size_t used = 0;
    const double d = std::stod(v, &used);
    if (used == v.size()) return d;
  } catch (const std::exception&) {
  }
  fail("figure {}: x option '{}' has the non-numeric value '{}'", fig, key, v);
}

std::string gp_quote(const std::string& s) {
  std::string o = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

}  // namespace

FigureData build_figure(const FigureSpec& spec, const ResultSet& rs) {
  FigureData f;
  f.name = spec.name;
  f.title = spec.title;
  f.xlabel = spec.x == "alpha"      ? "α"
             : spec.x == "beta"     ? "β"
             : spec.x == "sublayer" ? "sub-layer (2·layer + 1 for the MLP)"
                                    : spec.x;
  f.ylabel = display_metric(spec.y);
  f.logy = spec.logy;
  f.small_values = spec.x == "sublayer" || spec.x == "layer";
  std::vector<std::string> order;
  std::map<std::string, std::map<double, std::vector<double>>> pts;
  std::vector<double> ref;
  for (const auto& r : rs.rows) {
    if (!r.result.ok()) continue;
    bool match = true;
    for (const auto& [k, v] : spec.where) match = match && r.get(k) == v;
    if (!match) continue;
    if (spec.x == "sublayer" || spec.x == "layer") {  // the traced metric y.K against K
      const std::string s = r.get(spec.series), prefix = spec.y + ".";
      for (const auto& [key, v] : r.metrics) {
        if (key.rfind(prefix, 0) != 0) continue;
        const double k = parse_x(key.substr(prefix.size()), spec.name, key);
        const bool mlp = int64_t(k) % 2 == 1;
        if (spec.x == "layer" && !mlp) continue;  // a decoder layer's output: its MLP row
        if (std::find(order.begin(), order.end(), s) == order.end()) order.push_back(s);
        pts[s][spec.x == "layer" ? double(int64_t(k) / 2) : k].push_back(v);
      }
      continue;
    }
    auto m = r.metrics.find(spec.y);
    if (m == r.metrics.end()) continue;
    const std::string s = r.get(spec.series), xv = r.get(spec.x);
    if (xv.empty()) {
      if (s == spec.reference) ref.push_back(m->second);
      continue;
    }
    if (std::find(order.begin(), order.end(), s) == order.end()) order.push_back(s);
    pts[s][parse_x(xv, spec.name, spec.x)].push_back(m->second);
  }
  for (const auto& s : order) {
    FigureSeries fs_;
    fs_.name = display_value(spec.series, s);
    for (const auto& [x, ys] : pts[s]) {
      fs_.x.push_back(x);
      fs_.y.push_back(mean_sd(ys));
    }
    f.series.push_back(std::move(fs_));
  }
  if (!ref.empty()) {
    f.has_reference = true;
    f.reference_name = display_value(spec.series, spec.reference);
    f.reference = mean_sd(ref);
  }
  if (f.series.empty())
    fail("figure {}: no finished job has option '{}' and metric '{}'", spec.name, spec.x, spec.y);
  return f;
}

std::string figure_data_file(const FigureData& f) {
  std::string s =
      fmt::format("# {}\n# x: {}, y: {} (mean, sd over seeds, n)\n", f.title, f.xlabel, f.ylabel);
  if (f.has_reference)
    s += fmt::format("# reference {} {:.10g} {:.10g} {}\n", f.reference_name, f.reference.mean,
                     f.reference.sd, f.reference.n);
  for (size_t i = 0; i < f.series.size(); ++i) {
    if (i) s += "\n\n";
    s += "# series " + f.series[i].name + "\n";
    for (size_t k = 0; k < f.series[i].x.size(); ++k)
      s += fmt::format("{:.10g} {:.10g} {:.10g} {}\n", f.series[i].x[k], f.series[i].y[k].mean,
                       f.series[i].y[k].sd, f.series[i].y[k].n);
  }
  return s;
}

std::string figure_markdown(const FigureData& f) {
  std::vector<double> xs;
  for (const auto& s : f.series) xs.insert(xs.end(), s.x.begin(), s.x.end());
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  auto cell = [&](const Stat& st) {
    if (f.small_values)
      return st.n > 1 ? fmt::format("{:.4g} ± {:.2g}", st.mean, st.sd)
                      : fmt::format("{:.4g}", st.mean);
    return st.n > 1 ? fmt::format("{:.2f} ± {:.2f}", st.mean, st.sd)
                    : fmt::format("{:.2f}", st.mean);
  };
  std::string md = fmt::format("**{}**\n\n| {} |", f.title, f.xlabel);
  for (const auto& s : f.series) md += fmt::format(" {} {} |", s.name, f.ylabel);
  if (f.has_reference) md += fmt::format(" {} (reference) |", f.reference_name);
  md += "\n|---|";
  for (size_t i = 0; i < f.series.size() + (f.has_reference ? 1 : 0); ++i) md += "---|";
  md += "\n";
  for (const double x : xs) {
    md += fmt::format("| {:g} |", x);
    for (const auto& s : f.series) {
      const auto it = std::find(s.x.begin(), s.x.end(), x);
      md += it == s.x.end() ? std::string(" – |")
                            : fmt::format(" {} |", cell(s.y[size_t(it - s.x.begin())]));
    }
    if (f.has_reference) md += fmt::format(" {} |", cell(f.reference));
    md += "\n";
  }
  md += "\nMean ± sample sd over the calibration seeds.\n";
  return md;
}

std::string figure_script(const FigureData& f, const std::string& data, const std::string& svg,
                          const std::string& png) {
  std::string plot;
  for (size_t i = 0; i < f.series.size(); ++i)
    plot += fmt::format("{}{} index {} using 1:2:3 with yerrorlines lw 2 pt 7 title {}",
                        i ? ", " : "", gp_quote(data), i, gp_quote(f.series[i].name));
  if (f.has_reference)
    plot += fmt::format(", {:.10g} with lines dt 2 lw 2 lc rgb \"black\" title {}",
                        f.reference.mean, gp_quote(f.reference_name));
  std::string s = "# generated by loaq bench report\n";
  s += "set encoding utf8\nset key outside right\nset grid\n";
  s += "set title " + gp_quote(f.title) + "\n";
  s += "set xlabel " + gp_quote(f.xlabel) + "\nset ylabel " + gp_quote(f.ylabel) + "\n";
  if (f.logy) s += "set logscale y\n";
  s += "set terminal svg size 800,480 dynamic enhanced font \"sans,12\"\n";
  s += "set output " + gp_quote(svg) + "\nplot " + plot + "\n";
  s += "set terminal pngcairo size 800,480 enhanced font \"sans,11\"\n";
  s += "set output " + gp_quote(png) + "\nreplot\nunset output\n";
  return s;
}

FigureFiles write_figure(const FigureData& f, const std::string& dir) {
  fs::create_directories(dir);
  FigureFiles out;
  const fs::path d(dir);
  out.data = (d / (f.name + ".dat")).string();
  out.script = (d / (f.name + ".gp")).string();
  out.svg = (d / (f.name + ".svg")).string();
  out.png = (d / (f.name + ".png")).string();
  write_file_atomic(out.data, figure_data_file(f));
  // The script names the files relative to its folder; gnuplot runs there.
  write_file_atomic(out.script,
                    figure_script(f, f.name + ".dat", f.name + ".svg", f.name + ".png"));
  const std::string gnuplot = find_on_path("gnuplot");
  if (gnuplot.empty()) {
    out.message = "gnuplot is not installed (Debian: gnuplot-nox): wrote " + out.script + " and " +
                  out.data + "; run `gnuplot " + fs::path(out.script).filename().string() +
                  "` in " + dir;
    return out;
  }
  const std::string log = (d / (f.name + ".gnuplot.log")).string();
  fs::remove(log);
  // gnuplot reads the script from its own folder so that the relative names resolve.
  const ProcessResult r = run_process({gnuplot, "-e", "cd " + gp_quote(fs::absolute(d).string()),
                                       fs::absolute(out.script).string()},
                                      {}, log);
  if (!r.ok() || !fs::exists(out.svg) || !fs::exists(out.png)) {
    out.message = "gnuplot failed (" + r.describe() + "), see " + log;
    return out;
  }
  fs::remove(log);
  out.drawn = true;
  return out;
}

}  // namespace loaq::study
