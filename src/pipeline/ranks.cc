#include "pipeline/ranks.h"

#include <algorithm>

#include "core/error.h"

namespace loaq {

WindowShare::WindowShare(int64_t windows, int64_t chunk_samples) : chunk(chunk_samples) {
  if (chunk_samples < 1) fail("chunk size must be positive");
  n_chunks = (windows + chunk_samples - 1) / chunk_samples;
  chunks = dist::my_range(n_chunks);
  w0 = std::min(windows, chunks.begin * chunk);
  w1 = std::min(windows, chunks.end * chunk);
}

int64_t WindowShare::end(int64_t c, int64_t windows_total) const {
  return std::min(windows_total, (c + 1) * chunk);
}

double solve_cost(int64_t out, int64_t in, bool uses_data) {
  const double o = double(out), i = double(in);
  return uses_data ? o * i * i + i * i * i / 3 : o * i;
}

namespace {

void bcast_tensor(Tensor& t, int owner) {
  std::vector<int64_t> shape(8, -1);
  const bool mine = dist::rank() == owner;
  if (mine) {
    if (t.shape.size() > shape.size())
      fail("internal: broadcast of a rank-{} tensor", t.shape.size());
    shape[0] = int64_t(t.shape.size());
    std::copy(t.shape.begin(), t.shape.end(), shape.begin() + 1);
  }
  dist::broadcast(std::span(shape), owner);
  if (!mine) {
    std::vector<int64_t> s(shape.begin() + 1, shape.begin() + 1 + shape[0]);
    t = s.empty() ? Tensor() : Tensor(s);
  }
  dist::broadcast(std::span(t.data), owner);
}

void bcast_ints(std::vector<int32_t>& v, int owner) {
  int64_t n = int64_t(v.size());
  dist::broadcast(std::span(&n, 1), owner);
  v.resize(size_t(n));
  dist::broadcast(std::span(v), owner);
}

template <typename T>
void bcast_vec(std::vector<T>& v, int owner) {
  int64_t n = int64_t(v.size());
  dist::broadcast(std::span(&n, 1), owner);
  v.resize(size_t(n));
  dist::broadcast(std::span(v), owner);
}

void bcast_factor(RowQuantMatrix& m, int owner) {
  std::vector<int64_t> dims = {m.rows, m.cols, m.bits};
  dist::broadcast(std::span(dims), owner);
  m.rows = dims[0];
  m.cols = dims[1];
  m.bits = int(dims[2]);
  bcast_vec(m.codes, owner);
  bcast_vec(m.scale, owner);
  bcast_vec(m.values, owner);
}

// The owner's branch (or its absence) on every rank.
void bcast_branch(std::optional<LowRankBranch>& b, int owner) {
  std::vector<int64_t> head = {b.has_value() ? 1 : 0, b ? b->act_bits : 16};
  dist::broadcast(std::span(head), owner);
  if (head[0] == 0) {
    b.reset();
    return;
  }
  if (!b) b.emplace();
  b->act_bits = int(head[1]);
  bcast_factor(b->l1, owner);
  bcast_factor(b->l2, owner);
}

}  // namespace

void broadcast_linear(QuantizedLinear& q, LinearReport& r, int owner) {
  if (dist::size() == 1) return;
  bcast_tensor(q.q, owner);
  bcast_tensor(q.scale, owner);
  bcast_tensor(q.zero, owner);
  bcast_ints(q.codes, owner);
  bcast_ints(q.g_idx, owner);
  bcast_ints(q.perm, owner);
  bcast_branch(q.lowrank, owner);
  std::vector<double> d = {q.damp,           r.objective,   r.damp,           r.seconds,
                           r.objective_main, r.lowrank_fit, r.lowrank_seconds};
  std::vector<int64_t> i = {q.damp_raises,  q.dead_columns, r.damp_raises,
                            r.dead_columns, r.lowrank_rank, r.lowrank_bytes};
  dist::broadcast(std::span(d), owner);
  dist::broadcast(std::span(i), owner);
  q.damp = d[0];
  r.objective = d[1];
  r.damp = d[2];
  r.seconds = d[3];
  q.damp_raises = int(i[0]);
  q.dead_columns = i[1];
  r.damp_raises = int(i[2]);
  r.dead_columns = i[3];
  r.objective_main = d[4];
  r.lowrank_fit = d[5];
  r.lowrank_seconds = d[6];
  r.lowrank_rank = i[4];
  r.lowrank_bytes = i[5];
}

}  // namespace loaq
