#include "pipeline/stats.h"

#include "dist/dist.h"

namespace loaq {

Stats::Stats(int64_t n_in, int64_t hidden, bool c, bool s) : H(n_in, n_in), has_c(c), has_s(s) {
  if (c) C = MatD(n_in, n_in);
  if (s) S = MatD(n_in, hidden);
}

void Stats::add_chunk(const Tensor& xq, const Tensor* dx, const Tensor* target) {
  const int64_t rows = xq.rows(), n = xq.cols();
  add_gram(H, xq.ptr(), rows, n);
  if (has_c) add_cross(C, xq.ptr(), dx->ptr(), rows, n, n);
  if (has_s) add_cross(S, xq.ptr(), target->ptr(), rows, n, target->cols());
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
  tokens = total_tokens;
}

int64_t Stats::bytes() const {
  return int64_t(sizeof(double)) * int64_t(H.data.size() + C.data.size() + S.data.size());
}

int64_t Stats::bytes_for(int64_t n_in, int64_t hidden, bool c, bool s) {
  return int64_t(sizeof(double)) * (n_in * n_in * (c ? 2 : 1) + (s ? n_in * hidden : 0));
}

}  // namespace loaq
