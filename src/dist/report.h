#pragma once
// The "distributed" section of report.json and of `loaq eval --json`.
#include <nlohmann/json.hpp>

namespace loaq::dist {

// {"backend", "ranks", "bytes" (sum over ranks), "seconds_max" (the slowest rank's time in
// collectives), "per_rank": [{"calls", "bytes", "seconds"}...]}. A collective: every rank calls it.
nlohmann::ordered_json report_json();

}  // namespace loaq::dist
