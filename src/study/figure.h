#pragma once
// Figures drawn by gnuplot from a generated script and data file: metric y against option x, one
// line per series value (mean over seeds, sd as error bars), and a horizontal line for the
// reference series (a method the x option does not apply to, e.g. GPTQ for α). Writes NAME.dat,
// NAME.gp and, when gnuplot is installed, NAME.svg and NAME.png.
#include <string>
#include <vector>

#include "study/experiment.h"
#include "study/results.h"
#include "study/stats.h"

namespace loaq::study {

struct FigureSeries {
  std::string name;
  std::vector<double> x;
  std::vector<Stat> y;
};

struct FigureData {
  std::string name, title, xlabel, ylabel;
  std::vector<FigureSeries> series;
  bool has_reference = false;
  std::string reference_name;
  Stat reference;
  bool logy = false;
  bool small_values = false;  // traced MSEs: cells with 4 significant digits, not 2 decimals
};

FigureData build_figure(const FigureSpec& spec, const ResultSet& rs);
// The data file: one block per series ("# series NAME", then "x mean sd n" lines), blocks
// separated by two blank lines; the reference as a "# reference NAME mean sd n" line.
std::string figure_data_file(const FigureData& f);
// The figure's numbers as a Markdown table: x, then mean ± sd of each series (and the reference).
std::string figure_markdown(const FigureData& f);
// The gnuplot script that draws `data_file` into `svg` and `png`.
std::string figure_script(const FigureData& f, const std::string& data_file, const std::string& svg,
                          const std::string& png);

struct FigureFiles {
  std::string data, script, svg, png;
  bool drawn = false;  // false when gnuplot is missing or failed (see message)
  std::string message;
};
// Writes the data and script into `dir` and runs gnuplot when it is on PATH.
FigureFiles write_figure(const FigureData& f, const std::string& dir);

}  // namespace loaq::study
