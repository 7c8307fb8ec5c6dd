#include "pipeline/stats.h"

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

int64_t Stats::bytes() const {
  return int64_t(sizeof(double)) * int64_t(H.data.size() + C.data.size() + S.data.size());
}

int64_t Stats::bytes_for(int64_t n_in, int64_t hidden, bool c, bool s) {
  return int64_t(sizeof(double)) * (n_in * n_in * (c ? 2 : 1) + (s ? n_in * hidden : 0));
}

}  // namespace loaq
