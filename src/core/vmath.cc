#include "core/vmath.h"

#include <algorithm>
#include <cstring>

#include "core/simd.h"
#include "core/vexp.h"

namespace loaq {

#pragma GCC diagnostic ignored "-Wpsabi"  // vector helpers below are inlined

namespace {
constexpr int64_t kLanes = 16;
constexpr int64_t kFlush = 64 * kLanes;  // elements summed in float before the double flush

__attribute__((always_inline)) inline F16 load16(const float* p) {
  F16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
__attribute__((always_inline)) inline void store16(float* p, F16 v) {
  std::memcpy(p, &v, sizeof v);
}
__attribute__((always_inline)) inline double hsum(F16 v) {
  double s = 0;
  for (int k = 0; k < kLanes; ++k) s += double(v[k]);
  return s;
}
}  // namespace

LOAQ_SIMD_CLONES float max_of(const float* x, int64_t n) {
  int64_t i = 0;
  float m = x[0];
  if (n >= kLanes) {
    F16 lane = load16(x);
    for (i = kLanes; i + kLanes <= n; i += kLanes) {
      const F16 v = load16(x + i);
      lane = v > lane ? v : lane;
    }
    for (int k = 0; k < kLanes; ++k) m = std::max(m, lane[k]);
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

LOAQ_SIMD_CLONES double sum_exp(const float* x, int64_t n, float shift) {
  double total = 0;
  int64_t i = 0;
  const int64_t full = n - n % kLanes;
  while (i < full) {
    F16 lane = {};
    const int64_t end = std::min(full, i + kFlush);
    for (; i < end; i += kLanes) lane += vexpf16(load16(x + i) - shift);
    total += hsum(lane);
  }
  for (; i < n; ++i) total += double(vexpf(x[i] - shift));
  return total;
}

LOAQ_SIMD_CLONES double exp_inplace_sum(float* x, int64_t n, float shift) {
  double total = 0;
  int64_t i = 0;
  const int64_t full = n - n % kLanes;
  while (i < full) {
    F16 lane = {};
    const int64_t end = std::min(full, i + kFlush);
    for (; i < end; i += kLanes) {
      const F16 e = vexpf16(load16(x + i) - shift);
      store16(x + i, e);
      lane += e;
    }
    total += hsum(lane);
  }
  for (; i < n; ++i) {
    x[i] = vexpf(x[i] - shift);
    total += double(x[i]);
  }
  return total;
}

LOAQ_SIMD_CLONES void scale_inplace(float* x, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

}  // namespace loaq
