#pragma once
// The results of an experiment's folder: every job's result.json (of the jobs of its current
// grid, OUT/grid.json), as rows of settings and metrics, and their results.csv / results.json.
#include <map>
#include <string>
#include <vector>

#include "study/job_result.h"

namespace loaq::study {

struct ResultRow {
  std::map<std::string, std::string> settings;  // model, seed, method, options
  std::map<std::string, double> metrics;
  JobResult result;
  // A setting, or "" when absent. "ablation" is derived from method, no-soa and no-noa; "branch"
  // from lowrank, rank and lowrank-bits ("none", "svd r=32", "loaq r=32 W8A8").
  std::string get(const std::string& key) const;
};

struct ResultSet {
  std::vector<ResultRow> rows;       // in grid order; failed jobs included (status)
  std::vector<std::string> missing;  // labels of the grid's jobs without a result
  std::vector<std::string> setting_keys, metric_keys;  // union, in first-seen order
};

// Writes OUT/grid.json: the current grid's hashes and labels, in order.
void write_grid_index(const std::string& out, const std::vector<std::string>& hashes,
                      const std::vector<std::string>& labels);
ResultSet collect_results(const std::string& out);

std::string results_csv(const ResultSet& rs);
std::string results_json(const ResultSet& rs);

}  // namespace loaq::study
