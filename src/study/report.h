#pragma once
// `loaq bench report FOLDER`: the experiment folder's results as results.csv and results.json,
// its tables (tables/NAME.md, tables/NAME.tex, all Markdown tables in tables.md) and figures
// (figures/NAME.{dat,gp,svg,png}). With a docs folder, each Markdown table and figure is also
// written there as EXPERIMENT-NAME.md / .png / .svg, the files the README includes.
#include <string>
#include <vector>

namespace loaq::study {

struct ReportOutput {
  std::vector<std::string> files;
  std::vector<std::string> messages;  // notes: a figure written without gnuplot
  std::vector<std::string> errors;    // a table or figure the results cannot make, and why
  int jobs = 0, failed = 0, missing = 0;
};

ReportOutput write_report(const std::string& folder, const std::string& docs_dir = "");

}  // namespace loaq::study
