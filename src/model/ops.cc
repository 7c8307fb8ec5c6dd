#include "model/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/blas.h"
#include "core/error.h"
#include "core/simd.h"
#include "core/vexp.h"
#include "core/vmath.h"

namespace loaq {

#pragma GCC diagnostic ignored "-Wpsabi"  // F16 values stay inside inlined code

LOAQ_SIMD_CLONES void rms_norm(const float* x, int64_t rows, int64_t n, const float* w, double eps,
                               float* y) {
#pragma omp parallel for schedule(static) if (rows * n > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double ss = 0;
#pragma omp simd reduction(+ : ss)
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

LOAQ_SIMD_CLONES void silu_mul(float* gate, const float* up, int64_t n) {
  constexpr int64_t kLanes = 16;
  const int64_t full = n - n % kLanes;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < full; i += kLanes) {
    F16 g, u;
    std::memcpy(&g, gate + i, sizeof g);
    std::memcpy(&u, up + i, sizeof u);
    const F16 y = g / (1.0f + vexpf16(-g)) * u;
    std::memcpy(gate + i, &y, sizeof y);
  }
  for (int64_t i = full; i < n; ++i) gate[i] = gate[i] / (1.0f + vexpf(-gate[i])) * up[i];
}

void softmax_prefix(float* row, int64_t len) {
  const float m = max_of(row, len);
  const double sum = exp_inplace_sum(row, len, m);
  scale_inplace(row, len, float(1.0 / sum));
}

}  // namespace loaq
