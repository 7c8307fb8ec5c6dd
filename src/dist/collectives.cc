// Collectives in a fixed order, with their accounting (dist.h).
#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "dist/backend/backend.h"
#include "dist/dist.h"

namespace loaq::dist {

namespace {

CommStats g_stats;

// Adds one call, its bytes and its wall time to this rank's accounting.
class Account {
 public:
  explicit Account(int64_t bytes) : t0_(std::chrono::steady_clock::now()) {
    ++g_stats.calls;
    g_stats.bytes += bytes;
  }
  ~Account() {
    g_stats.seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }
  Account(const Account&) = delete;
  Account& operator=(const Account&) = delete;

 private:
  std::chrono::steady_clock::time_point t0_;
};

// Segments of the chained sum: each is received, completed and forwarded before the next, so the
// chain is a pipeline and its time is about one buffer's transfer, not R of them.
constexpr int64_t kSegment = int64_t(1) << 19;  // doubles (4 MiB)

void bcast_bytes(void* p, size_t bytes, int owner) {
  if (owner < 0 || owner >= size()) fail("internal: broadcast from rank {} of {}", owner, size());
  Account a(rank() == owner ? int64_t(bytes) * (size() - 1) : 0);
  if (size() > 1) backend::bcast(p, bytes, owner);
}

// The running sum arrives from rank-1, this rank's chunks are added, it leaves for rank+1; then
// the last rank delivers it.
void chain(std::span<double> sum, int64_t n_chunks,
           const std::function<void(Range, std::span<double>, int64_t)>& add_mine, int to,
           int64_t segment = kSegment) {
  if (to != kAll && (to < 0 || to >= size())) fail("internal: ordered_sum to rank {}", to);
  const Range mine = my_range(n_chunks);
  const int r = rank(), R = size(), last = R - 1;
  const auto n = int64_t(sum.size());
  {
    Account a(r < last ? n * 8 : 0);
    for (int64_t o = 0; o < n || o == 0; o += segment) {
      const auto seg = sum.subspan(size_t(o), size_t(std::min(segment, n - o)));
      if (r > 0) backend::recv(seg.data(), seg.size_bytes(), r - 1);
      add_mine(mine, seg, o);
      if (r < last) backend::send(seg.data(), seg.size_bytes(), r + 1);
      if (n == 0) break;
    }
  }
  if (R == 1 || to == last) return;
  if (to == kAll) return bcast_bytes(sum.data(), sum.size_bytes(), last);
  Account a(r == last ? n * 8 : 0);
  if (r == last) backend::send(sum.data(), sum.size_bytes(), to);
  if (r == to) backend::recv(sum.data(), sum.size_bytes(), last);
}

}  // namespace

void ordered_sum(std::span<double> sum, int64_t n_chunks, const AddChunk& add_chunk, int to,
                 int64_t segment) {
  if (segment < 0) fail("internal: ordered_sum segment {}", segment);
  chain(
      sum, n_chunks,
      [&](Range mine, std::span<double> seg, int64_t offset) {
        for (int64_t c = mine.begin; c < mine.end; ++c) add_chunk(c, offset, seg);
      },
      to, segment > 0 ? segment : kSegment);
}

namespace {
template <class T>
void ordered_sum_stored(std::span<double> sum, int64_t n_chunks,
                        std::span<const std::span<const T>> mine, int to) {
  if (int64_t(mine.size()) != my_range(n_chunks).size())
    fail("internal: ordered_sum: {} partials for {} chunks", mine.size(),
         my_range(n_chunks).size());
  for (const auto& p : mine)
    if (p.size() != sum.size())
      fail("internal: ordered_sum: partial of {} values, sum of {}", p.size(), sum.size());
  chain(
      sum, n_chunks,
      [&](Range, std::span<double> seg, int64_t offset) {
        for (const auto& p : mine) {
          const T* q = p.data() + offset;
          for (size_t k = 0; k < seg.size(); ++k) seg[k] += double(q[k]);
        }
      },
      to);
}
}  // namespace

void ordered_sum(std::span<double> sum, int64_t n_chunks,
                 std::span<const std::span<const double>> mine, int to) {
  ordered_sum_stored(sum, n_chunks, mine, to);
}

void ordered_sum(std::span<double> sum, int64_t n_chunks,
                 std::span<const std::span<const float>> mine, int to) {
  ordered_sum_stored(sum, n_chunks, mine, to);
}

void broadcast(std::span<double> b, int owner) {
  bcast_bytes(b.data(), b.size_bytes(), owner);
}
void broadcast(std::span<float> b, int owner) {
  bcast_bytes(b.data(), b.size_bytes(), owner);
}
void broadcast(std::span<int32_t> b, int owner) {
  bcast_bytes(b.data(), b.size_bytes(), owner);
}
void broadcast(std::span<int64_t> b, int owner) {
  bcast_bytes(b.data(), b.size_bytes(), owner);
}
void broadcast(std::span<int8_t> b, int owner) {
  bcast_bytes(b.data(), b.size_bytes(), owner);
}

void allgather(std::span<double> data, std::span<const Range> ranges, int64_t per_item) {
  if (int(ranges.size()) != size())
    fail("internal: allgather: {} ranges for {} ranks", ranges.size(), size());
  for (int r = 0; r < size(); ++r) {
    const Range x = ranges[size_t(r)];
    if (x.begin < 0 || x.end < x.begin || x.end * per_item > int64_t(data.size()))
      fail("internal: allgather: range [{}, {}) of rank {} outside {} values", x.begin, x.end, r,
           data.size());
    if (size() > 1)
      bcast_bytes(data.data() + x.begin * per_item, size_t(x.size() * per_item) * sizeof(double),
                  r);
  }
}

namespace {
template <class T>
void sum_ranks(std::span<T> v) {
  if (size() == 1) return;
  std::vector<T> all(v.size() * size_t(size()));
  std::copy(v.begin(), v.end(), all.begin() + std::ptrdiff_t(v.size() * size_t(rank())));
  for (int r = 0; r < size(); ++r)
    bcast_bytes(all.data() + v.size() * size_t(r), v.size() * sizeof(T), r);
  for (size_t k = 0; k < v.size(); ++k) {
    T s = all[k];
    for (int r = 1; r < size(); ++r) s += all[v.size() * size_t(r) + k];
    v[k] = s;
  }
}
}  // namespace

void sum_in_rank_order(std::span<double> v) {
  sum_ranks(v);
}
void sum_in_rank_order(std::span<int64_t> v) {
  sum_ranks(v);
}

void barrier() {
  Account a(0);
  backend::barrier();
}

CommStats comm_stats() {
  return g_stats;
}
void reset_comm_stats() {
  g_stats = {};
}

std::vector<CommStats> gather_comm_stats() {
  const CommStats mine = g_stats;  // before this call's own traffic
  std::vector<double> v(size_t(size()) * 3, 0.0);
  v[size_t(rank()) * 3 + 0] = double(mine.calls);
  v[size_t(rank()) * 3 + 1] = double(mine.bytes);
  v[size_t(rank()) * 3 + 2] = mine.seconds;
  for (int r = 0; r < size(); ++r)
    if (size() > 1) backend::bcast(v.data() + size_t(r) * 3, 3 * sizeof(double), r);
  std::vector<CommStats> out;
  for (int r = 0; r < size(); ++r)
    out.push_back({int64_t(v[size_t(r) * 3]), int64_t(v[size_t(r) * 3 + 1]), v[size_t(r) * 3 + 2]});
  return out;
}

}  // namespace loaq::dist
