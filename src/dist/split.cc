// Contiguous splits of chunks across ranks (dist.h).
#include <algorithm>

#include "core/error.h"
#include "dist/dist.h"

namespace loaq::dist {

Range split(int64_t n, int parts, int index) {
  if (n < 0 || parts < 1 || index < 0 || index >= parts)
    fail("internal: split({}, {}, {})", n, parts, index);
  const int64_t base = n / parts, extra = n % parts;
  const int64_t b = index * base + std::min<int64_t>(index, extra);
  return {b, b + base + (index < extra ? 1 : 0)};
}

std::vector<Range> split_all(int64_t n) {
  std::vector<Range> r;
  for (int i = 0; i < size(); ++i) r.push_back(split(n, size(), i));
  return r;
}

namespace {
Range chunk_items(Range chunks, int64_t n_items, int64_t chunk) {
  return {std::min(n_items, chunks.begin * chunk), std::min(n_items, chunks.end * chunk)};
}
int64_t n_chunks(int64_t n_items, int64_t chunk) {
  if (chunk < 1) fail("internal: chunk size {}", chunk);
  return (n_items + chunk - 1) / chunk;
}
}  // namespace

Range my_items(int64_t n_items, int64_t chunk) {
  return chunk_items(my_range(n_chunks(n_items, chunk)), n_items, chunk);
}

std::vector<Range> items_all(int64_t n_items, int64_t chunk) {
  std::vector<Range> r;
  for (const Range c : split_all(n_chunks(n_items, chunk)))
    r.push_back(chunk_items(c, n_items, chunk));
  return r;
}

int owner_of(int64_t c, int64_t n) {
  if (c < 0 || c >= n) fail("internal: owner_of({}, {})", c, n);
  for (int r = 0; r < size(); ++r)
    if (c < split(n, size(), r).end) return r;
  return size() - 1;
}

std::vector<int> assign_owners(std::span<const double> costs) {
  std::vector<size_t> order(costs.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(size_t(size()), 0.0);
  std::vector<int> owner(costs.size(), 0);
  for (const size_t k : order) {
    int best = size() - 1;
    for (int r = size() - 1; r >= 0; --r)
      if (load[size_t(r)] < load[size_t(best)]) best = r;
    owner[k] = best;
    load[size_t(best)] += costs[k];
  }
  return owner;
}

}  // namespace loaq::dist
