// Run under `mpirun -n R` by tests/mpi_test.cc (and alone): checks src/dist/dist.h's collectives on
// R ranks against what one process computes, bit for bit. Prints "dist_check: ok ..." from rank 0
// and exits 0, or names every mismatch and exits 1.
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "dist/dist.h"

namespace loaq::dist {
namespace {

int64_t g_failures = 0;
int64_t g_cases = 0;

void expect(bool ok, const std::string& what) {
  ++g_cases;
  if (ok) return;
  ++g_failures;
  fmt::print(stderr, "dist_check: rank {}/{}: FAILED: {}\n", rank(), size(), what);
}

// A partial P_c[k] with a wide dynamic range (exponents -40..40, both signs), so that the sum's
// bits depend on the order of the additions.
double partial(int64_t c, int64_t k) {
  uint64_t h = uint64_t(c) * 0x9E3779B97F4A7C15ull + uint64_t(k) * 0xC2B2AE3D27D4EB4Full + 1;
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  const double u = double(h >> 11) / double(1ull << 53) * 2 - 1;
  return std::ldexp(u, int((h >> 3) % 81) - 40);
}

constexpr double kInit = 0.375;  // rank 0's initial value of every element

// The single process: S = ((init + P_0) + P_1) + ...
std::vector<double> sequential(int64_t n_chunks, int64_t len) {
  std::vector<double> s(size_t(len), kInit);
  for (int64_t c = 0; c < n_chunks; ++c)
    for (int64_t k = 0; k < len; ++k) s[size_t(k)] += partial(c, k);
  return s;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// Rank 0 starts from kInit; the others from NaN, which must not leak into the result.
std::vector<double> start(int64_t len) {
  return std::vector<double>(size_t(len),
                             is_root() ? kInit : std::numeric_limits<double>::quiet_NaN());
}

void check_ordered_sum(int64_t n_chunks, int64_t len, int64_t* order_sensitive) {
  const auto want = sequential(n_chunks, len);
  {  // order matters for this data: the reverse order gives other bits somewhere
    std::vector<double> rev(size_t(len), kInit);
    for (int64_t c = n_chunks - 1; c >= 0; --c)
      for (int64_t k = 0; k < len; ++k) rev[size_t(k)] += partial(c, k);
    if (!same_bits(rev, want)) ++*order_sensitive;
  }
  const std::string tag = fmt::format("n_chunks {} len {}", n_chunks, len);
  // Callback form, result on every rank.
  auto s = start(len);
  int64_t last_chunk = -1, calls = 0;
  ordered_sum(s, n_chunks, [&](int64_t c, int64_t offset, std::span<double> seg) {
    if (offset == 0) {
      expect(c > last_chunk && my_range(n_chunks).begin <= c && c < my_range(n_chunks).end,
             tag + ": chunk order / ownership");
      last_chunk = c;
    }
    ++calls;
    for (size_t k = 0; k < seg.size(); ++k) seg[k] += partial(c, offset + int64_t(k));
  });
  expect(same_bits(s, want), tag + ": callback, to all");
  expect(calls >= my_range(n_chunks).size(), tag + ": every chunk of this rank added");
  // Stored partials, result on one rank (the last, the first, a middle one).
  const Range mine = my_range(n_chunks);
  std::vector<std::vector<double>> store;
  for (int64_t c = mine.begin; c < mine.end; ++c) {
    store.emplace_back(size_t(len));
    for (int64_t k = 0; k < len; ++k) store.back()[size_t(k)] = partial(c, k);
  }
  const std::vector<std::span<const double>> views(store.begin(), store.end());
  for (const int to : {size() - 1, 0, size() / 2}) {
    auto t = start(len);
    ordered_sum(t, n_chunks, views, to);
    if (rank() == to) expect(same_bits(t, want), tag + fmt::format(": stored partials, to {}", to));
  }
  // fp32 partials (an fp32 product per chunk, added in fp64) against the same sequential rule.
  std::vector<double> want32(size_t(len), kInit);
  for (int64_t c = 0; c < n_chunks; ++c)
    for (int64_t k = 0; k < len; ++k) want32[size_t(k)] += double(float(partial(c, k)));
  std::vector<std::vector<float>> store32;
  for (const auto& p : store) store32.emplace_back(p.begin(), p.end());
  const std::vector<std::span<const float>> views32(store32.begin(), store32.end());
  auto t = start(len);
  ordered_sum(t, n_chunks, views32, kAll);
  expect(same_bits(t, want32), tag + ": fp32 partials, to all");
}

void check_allgather_broadcast() {
  // 11 items in chunks of 3 (4 chunks: uneven over 3 ranks, empty ranges on 5+), 2 values each.
  const auto ranges = items_all(11, 3);
  std::vector<double> v(22, -1.0);
  const Range mine = my_items(11, 3);
  expect(mine == ranges[size_t(rank())], "my_items == items_all[rank]");
  for (int64_t i = mine.begin; i < mine.end; ++i) {
    v[size_t(2 * i)] = partial(i, 0);
    v[size_t(2 * i + 1)] = partial(i, 1);
  }
  allgather(v, ranges, 2);
  bool ok = true;
  for (int64_t i = 0; i < 11; ++i)
    ok = ok && v[size_t(2 * i)] == partial(i, 0) && v[size_t(2 * i + 1)] == partial(i, 1);
  expect(ok, "allgather of uneven ranges");

  const int owner = size() - 1;
  std::vector<float> f(5, rank() == owner ? 2.5f : 0.0f);
  std::vector<int32_t> i32(3, rank() == owner ? -7 : 0);
  std::vector<int64_t> i64(2, rank() == owner ? (int64_t(1) << 40) : 0);
  std::vector<double> d(4, rank() == owner ? partial(3, 3) : 0.0);
  broadcast(f, owner);
  broadcast(i32, owner);
  broadcast(i64, owner);
  broadcast(d, owner);
  expect(f[4] == 2.5f && i32[2] == -7 && i64[1] == (int64_t(1) << 40) && d[3] == partial(3, 3),
         "broadcast of float / int32 / int64 / double");

  // Owners of the four solves of a Llama-3-70B layer (qkv, o, gate/up, down by cost).
  const std::vector<double> costs = {3.3, 2.8, 15.5, 56.0};
  const auto own = assign_owners(costs);
  const int R = size();
  if (R == 1) expect(own == std::vector<int>{0, 0, 0, 0}, "owners R=1");
  if (R == 2) expect(own == std::vector<int>{0, 0, 0, 1}, "owners R=2");
  if (R == 3) expect(own == std::vector<int>{0, 0, 1, 2}, "owners R=3");
  if (R == 4) expect(own == std::vector<int>{1, 0, 2, 3}, "owners R=4: one solve per rank");

  std::vector<int64_t> s = {rank() + 1, 1};
  sum_in_rank_order(s);
  expect(s[0] == int64_t(size()) * (size() + 1) / 2 && s[1] == size(), "sum_in_rank_order int64");
  std::vector<double> x = {double(rank())};
  sum_in_rank_order(x);
  expect(x[0] == double(size()) * (size() - 1) / 2, "sum_in_rank_order double");
}

void check_accounting() {
  constexpr int64_t len = 1000;
  reset_comm_stats();
  auto s = start(len);
  ordered_sum(s, 4, [&](int64_t c, int64_t o, std::span<double> seg) {
    for (size_t k = 0; k < seg.size(); ++k) seg[k] += partial(c, o + int64_t(k));
  });
  int64_t bytes = 0;
  for (const auto& c : gather_comm_stats()) bytes += c.bytes;
  // The chain (R-1 hops) and the broadcast from the last rank ((R-1) copies).
  expect(bytes == 2 * (size() - 1) * 8 * len,
         fmt::format("bytes of a chained sum to all: {} (want {})", bytes,
                     2 * (size() - 1) * 8 * len));
}

int run() {
  int64_t order_sensitive = 0;
  for (const int64_t n : {1, 2, 3, 4, 5, 7, 13})
    for (const int64_t len : {1, 5, 1000}) check_ordered_sum(n, len, &order_sensitive);
  check_ordered_sum(5, 2 * (int64_t(1) << 19) + 3, &order_sensitive);  // crosses segments
  expect(order_sensitive >= 10, "the test data is order-sensitive (else the check proves little)");
  check_allgather_broadcast();
  check_accounting();
  std::vector<int64_t> totals = {g_failures, g_cases};
  sum_in_rank_order(totals);
  if (is_root())
    fmt::print("dist_check: {} R={} checks={} failures={}\n", totals[0] ? "FAILED" : "ok", size(),
               totals[1], totals[0]);
  return totals[0] ? 1 : 0;
}

}  // namespace
}  // namespace loaq::dist

int main(int argc, char** argv) {
  try {
    const loaq::dist::Session session(&argc, &argv);
    return loaq::dist::run();
  } catch (const std::exception& e) {
    return loaq::dist::fail_job("error", e.what(), 1);
  }
}
