#include "pipeline/stats.h"

#include <cmath>

#include "dist/dist.h"

namespace loaq {

Stats::Stats(int64_t n_in, int64_t hidden, bool c, bool s, bool abs)
    : H(n_in, n_in), has_c(c), has_s(s), has_abs(abs) {
  if (c) C = MatD(n_in, n_in);
  if (s) S = MatD(n_in, hidden);
  if (abs) abs_sum.assign(size_t(n_in), 0.0);
}

namespace {
// sum[j] += Σ_rows |x[r, j]|, row by row (the one order every split of the windows repeats).
void add_abs(double* sum, const Tensor& x) {
  const int64_t n = x.cols();
  for (int64_t r = 0; r < x.rows(); ++r) {
    const float* row = x.row(r);
    for (int64_t j = 0; j < n; ++j) sum[j] += std::fabs(double(row[j]));
  }
}
}  // namespace

std::vector<double> Stats::mean_abs() const {
  std::vector<double> m(abs_sum.size());
  for (size_t j = 0; j < m.size(); ++j) m[j] = tokens > 0 ? abs_sum[j] / double(tokens) : 0.0;
  return m;
}

void Stats::add_chunk(const Tensor& xq, const Tensor* dx, const Tensor* target) {
  const int64_t rows = xq.rows(), n = xq.cols();
  add_gram(H, xq.ptr(), rows, n);
  if (has_c) add_cross(C, xq.ptr(), dx->ptr(), rows, n, n);
  if (has_s) add_cross(S, xq.ptr(), target->ptr(), rows, n, target->cols());
  if (has_abs) add_abs(abs_sum.data(), xq);
  tokens += rows;
}

void Stats::sum_over_ranks(std::span<const Chunk> mine, int64_t n_chunks, int64_t total_tokens,
                           int to) {
  const dist::Range range = dist::my_range(n_chunks);
  const int64_t n = H.rows;
  // Each segment of the chain is a block of kStatRows rows of the sum, so a chunk's share of it is
  // the same BLAS tile product add_chunk() forms.
  auto sum = [&](MatD& m, auto add_rows) {
    const int64_t cols = m.cols;
    dist::ordered_sum(
        std::span(m.data), n_chunks,
        [&](int64_t c, int64_t offset, std::span<double> seg) {
          const int64_t i0 = offset / cols, i1 = i0 + int64_t(seg.size()) / cols;
          add_rows(mine[size_t(c - range.begin)], seg.data(), i0, i1);
        },
        to, kStatRows * cols);
  };
  sum(H, [&](const Chunk& k, double* c, int64_t i0, int64_t i1) {
    add_gram_rows(c, k.xq.ptr(), k.xq.rows(), n, i0, i1);
  });
  if (to == dist::kAll || to == dist::rank()) mirror_upper(H);
  if (has_c)
    sum(C, [&](const Chunk& k, double* c, int64_t i0, int64_t i1) {
      add_cross_rows(c, k.xq.ptr(), k.dx.ptr(), k.xq.rows(), n, n, i0, i1);
    });
  if (has_s)
    sum(S, [&](const Chunk& k, double* c, int64_t i0, int64_t i1) {
      add_cross_rows(c, k.xq.ptr(), k.target.ptr(), k.xq.rows(), n, S.cols, i0, i1);
    });
  if (has_abs)
    dist::ordered_sum(
        std::span(abs_sum), n_chunks,
        [&](int64_t c, int64_t, std::span<double> seg) {
          add_abs(seg.data(), mine[size_t(c - range.begin)].xq);
        },
        to, n);
  tokens = total_tokens;
}

int64_t Stats::bytes() const {
  return int64_t(sizeof(double)) *
         int64_t(H.data.size() + C.data.size() + S.data.size() + abs_sum.size());
}

int64_t Stats::bytes_for(int64_t n_in, int64_t hidden, bool c, bool s) {
  return int64_t(sizeof(double)) * (n_in * n_in * (c ? 2 : 1) + (s ? n_in * hidden : 0));
}

}  // namespace loaq
