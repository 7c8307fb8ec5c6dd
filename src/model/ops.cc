#include "model/ops.h"

#include <algorithm>
#include <cmath>

#include "core/blas.h"
#include "core/error.h"
#include "core/vexp.h"

namespace loaq {

void rms_norm(const float* x, int64_t rows, int64_t n, const float* w, double eps, float* y) {
#pragma omp parallel for schedule(static) if (rows * n > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += double(xr[i]) * double(xr[i]);
    const auto inv = float(1.0 / std::sqrt(ss / double(n) + eps));
    for (int64_t i = 0; i < n; ++i) yr[i] = w[i] * (xr[i] * inv);
  }
}

Tensor rms_norm(const Tensor& x, const Tensor& w, double eps) {
  Tensor y(x.shape);
  const int64_t n = x.shape.back();
  if (w.numel() != n) fail("rms_norm: weight has {} entries, rows have {}", w.numel(), n);
  rms_norm(x.ptr(), x.numel() / n, n, w.ptr(), eps, y.ptr());
  return y;
}

Tensor apply_linear(const Linear& l, const Tensor& x) {
  const int64_t rows = x.numel() / l.in();
  Tensor y({rows, l.out()});
  if (!l.b.empty()) {
    for (int64_t r = 0; r < rows; ++r) std::copy(l.b.data.begin(), l.b.data.end(), y.row(r));
  }
  linear(x.ptr(), rows, l.in(), l.w.ptr(), l.out(), y.ptr(), l.b.empty() ? 0.0f : 1.0f);
  return y;
}

void silu_mul(float* gate, const float* up, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {  // vectorized inside each thread's range
    const float g = gate[i];
    gate[i] = g / (1.0f + vexpf(-g)) * up[i];
  }
}

void softmax_prefix(float* row, int64_t len) {
  float m = row[0];
#pragma omp simd reduction(max : m)
  for (int64_t j = 1; j < len; ++j) m = std::max(m, row[j]);
#pragma omp simd
  for (int64_t j = 0; j < len; ++j) row[j] = vexpf(row[j] - m);
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < len; ++j) sum += row[j];
  const auto inv = float(1.0 / sum);
  for (int64_t j = 0; j < len; ++j) row[j] *= inv;
}

}  // namespace loaq
