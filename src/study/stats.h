#pragma once
// Mean and sample standard deviation (n − 1; 0 for a single value) of a cell's values over seeds.
#include <vector>

namespace loaq::study {

struct Stat {
  int n = 0;
  double mean = 0, sd = 0;
};

Stat mean_sd(const std::vector<double>& v);

}  // namespace loaq::study
