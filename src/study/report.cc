#include "study/report.h"

#include <filesystem>

#include "core/error.h"
#include "io/atomic_file.h"
#include "study/experiment.h"
#include "study/figure.h"
#include "study/results.h"
#include "study/table.h"

namespace fs = std::filesystem;

namespace loaq::study {

ReportOutput write_report(const std::string& folder, const std::string& docs_dir) {
  const fs::path d(folder);
  const std::string exp_file = (d / "experiment.yaml").string();
  if (!fs::exists(exp_file))
    fail("{}: not an experiment folder (no experiment.yaml; `loaq bench run` writes it)", folder);
  const Experiment e = load_experiment(exp_file);
  const ResultSet rs = collect_results(folder);
  ReportOutput out;
  out.jobs = int(rs.rows.size());
  out.missing = int(rs.missing.size());
  for (const auto& r : rs.rows) out.failed += r.result.ok() ? 0 : 1;
  auto put = [&](const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    write_file_atomic(p.string(), text);
    out.files.push_back(p.string());
  };
  put(d / "results.csv", results_csv(rs));
  put(d / "results.json", results_json(rs));
  std::string all = "# " + e.name + "\n\n";
  if (!e.description.empty()) all += e.description + "\n\n";
  for (const auto& spec : e.tables) {
    Table t;
    try {
      t = build_table(spec, rs);
    } catch (const Error& err) {
      out.errors.push_back(err.what());
      continue;
    }
    const std::string md = table_markdown(t);
    put(d / "tables" / (spec.name + ".md"), md);
    put(d / "tables" / (spec.name + ".tex"), table_latex(t));
    all += md + "\n";
    if (!docs_dir.empty()) put(fs::path(docs_dir) / (e.name + "-" + spec.name + ".md"), md);
  }
  if (!e.tables.empty()) put(d / "tables.md", all);
  for (const auto& spec : e.figures) {
    FigureData f;
    try {
      f = build_figure(spec, rs);
    } catch (const Error& err) {
      out.errors.push_back(err.what());
      continue;
    }
    const FigureFiles ff = write_figure(f, (d / "figures").string());
    out.files.insert(out.files.end(), {ff.data, ff.script});
    const std::string md = figure_markdown(f);
    put(d / "figures" / (spec.name + ".md"), md);
    if (!docs_dir.empty()) put(fs::path(docs_dir) / (e.name + "-" + spec.name + ".md"), md);
    if (!ff.drawn) {
      out.messages.push_back("figure " + spec.name + ": " + ff.message);
      continue;
    }
    out.files.insert(out.files.end(), {ff.svg, ff.png});
    if (!docs_dir.empty())
      for (const auto& src : {ff.png, ff.svg}) {
        const fs::path dst =
            fs::path(docs_dir) / (e.name + "-" + spec.name + fs::path(src).extension().string());
        fs::create_directories(dst.parent_path());
        fs::copy_file(src, dst, fs::copy_options::overwrite_existing);
        out.files.push_back(dst.string());
      }
  }
  return out;
}

}  // namespace loaq::study
