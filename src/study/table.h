#pragma once
// Paper-shaped tables from an experiment's results: rows (methods, or the ablation's LoaQ / −SOA /
// −NOA / −both), blocks per section (a model), column groups side by side (two settings, e.g. no
// transform and Hadamard), each cell the mean ± sd of one metric over the calibration seeds, the
// best of a column in bold (ties of the printed mean decided by the smaller printed sd). Written
// as Markdown and as LaTeX (booktabs).
#include <string>
#include <vector>

#include "study/experiment.h"
#include "study/results.h"
#include "study/stats.h"

namespace loaq::study {

struct TableCell {
  bool present = false;
  Stat stat;
  bool bold = false;
};

struct TableBlock {
  std::string section;  // "" when the table has no sections
  std::vector<std::string> rows;
  std::vector<std::vector<TableCell>> cells;  // [row][group * columns + column]
};

struct Table {
  std::string name, title, row_header;
  std::vector<std::string> groups;   // display names; one "" when not side by side
  std::vector<std::string> columns;  // metric keys
  std::vector<TableBlock> blocks;
  int digits = 2;
  int max_n = 0;            // seeds in the fullest cell
  std::vector<long> seeds;  // the seeds seen
  std::vector<std::string> notes;
};

// Throws loaq::Error naming the table when a cell would mix different settings (other than the
// seed): add the key as rows / sections / side_by_side, or restrict with `where`.
Table build_table(const TableSpec& spec, const ResultSet& rs);

std::string table_markdown(const Table& t);
std::string table_latex(const Table& t);

// Display names: methods (GPTQ, LoaQ, ...), ablation rows (LoaQ, −SOA, −NOA, −both), settings
// (2-bit, Hadamard, ...), metrics (Wiki2↓, Acc↑, ...).
std::string display_value(const std::string& key, const std::string& value);
std::string display_metric(const std::string& metric);
bool lower_is_better(const std::string& metric);

}  // namespace loaq::study
