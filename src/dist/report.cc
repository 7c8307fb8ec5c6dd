#include "dist/report.h"

#include <algorithm>

#include "dist/dist.h"

namespace loaq::dist {

nlohmann::ordered_json report_json() {
  const auto all = gather_comm_stats();
  int64_t bytes = 0;
  double seconds_max = 0;
  auto per_rank = nlohmann::ordered_json::array();
  for (const auto& s : all) {
    bytes += s.bytes;
    seconds_max = std::max(seconds_max, s.seconds);
    per_rank.push_back({{"calls", s.calls}, {"bytes", s.bytes}, {"seconds", s.seconds}});
  }
  return {{"backend", backend_name()},
          {"ranks", size()},
          {"bytes", bytes},
          {"seconds_max", seconds_max},
          {"per_rank", per_rank}};
}

}  // namespace loaq::dist
