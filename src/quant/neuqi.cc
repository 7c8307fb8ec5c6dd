#include "quant/neuqi.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

namespace loaq {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The sweep of neuqi_best_zero on x sorted in descending order (hd in the same order): for a fixed
// k, the breakpoints k − ½ − x_j increase with j, so the qmax lists are merged through a binary
// min-heap of their heads (head of list k: element pos[k], breakpoint val[k]).
ZeroFit sweep_real_zero(const double* xd, const double* hd, int64_t n, int qmax) {
  if (n <= 0 || qmax < 1) return {};
  // z → −∞: every code is 0, x − c = x. A = Σh does not change along the sweep.
  double A = 0, B = 0, C = 0;
  for (int64_t j = 0; j < n; ++j) {
    A += hd[j];
    B += hd[j] * xd[j];
    C += hd[j] * xd[j] * xd[j];
  }
  const double inv_a = A > 0 ? 1.0 / A : 0.0;
  ZeroFit best{0.0, kInf};
  double lo = -kInf;
  auto piece = [&](double hi) {  // min of A z² + 2 B z + C on [lo, hi]
    const double z = std::clamp(-B * inv_a, lo, hi);
    if (!std::isfinite(z)) return;
    const double f = (A * z + 2.0 * B) * z + C;
    if (f < best.objective) best = {z, f};
  };
  std::vector<double> val(size_t(qmax) + 1);
  std::vector<int64_t> pos(size_t(qmax) + 1, 0);
  std::vector<int> heap(static_cast<size_t>(qmax));  // list numbers k, ordered by val[k]
  for (int k = 1; k <= qmax; ++k) {
    val[size_t(k)] = k - 0.5 - xd[0];
    heap[size_t(k - 1)] = k;  // already a heap: val increases with k
  }
  int size = qmax;
  auto sift_down = [&]() {
    int i = 0;
    const int k = heap[0];
    for (;;) {
      int c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size && val[size_t(heap[size_t(c + 1)])] < val[size_t(heap[size_t(c)])]) ++c;
      if (!(val[size_t(heap[size_t(c)])] < val[size_t(k)])) break;
      heap[size_t(i)] = heap[size_t(c)];
      i = c;
    }
    heap[size_t(i)] = k;
  };
  while (size > 0) {
    const int k = heap[0];
    const double v = val[size_t(k)];
    piece(v);
    lo = v;
    const int64_t j = pos[size_t(k)];
    const double d = xd[j] - double(k - 1);  // x − c before the code steps from k − 1 to k
    B -= hd[j];
    C += hd[j] * (1.0 - 2.0 * d);  // (d − 1)² − d²
    if (j + 1 < n) {
      pos[size_t(k)] = j + 1;
      val[size_t(k)] = double(k) - 0.5 - xd[j + 1];
    } else {
      heap[0] = heap[size_t(--size)];
    }
    if (size > 0) sift_down();
  }
  piece(kInf);
  return best;
}

// Σ_{j∈[a,b)} h_j (x_j − round(x_j))², x_j = wd_j / s.
double residual_sum(const double* wd, const double* hd, int64_t a, int64_t b, double s) {
  double acc[4] = {0, 0, 0, 0};
  int64_t j = a;
  for (; j + 4 <= b; j += 4)
    for (int u = 0; u < 4; ++u) {
      const double x = wd[j + u] / s, e = x - std::nearbyint(x);
      acc[u] += hd[j + u] * e * e;
    }
  for (; j < b; ++j) {
    const double x = wd[j] / s, e = x - std::nearbyint(x);
    acc[0] += hd[j] * e * e;
  }
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// One row, sorted in descending order of w, with prefix sums of h, h·w, h·w² for the integer
// zero search.
struct SortedRow {
  std::vector<double> wd, hd, s0, s1, s2;
  // Scratch of best_int_zero, kept across scales.
  mutable std::vector<int64_t> hi_end, lo_begin, cuts;
  mutable std::vector<double> at;

  SortedRow(const double* w, const double* h, int64_t n) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return w[a] > w[b]; });
    wd.resize(size_t(n));
    hd.resize(size_t(n));
    for (int64_t j = 0; j < n; ++j) {
      wd[size_t(j)] = w[order[size_t(j)]];
      hd[size_t(j)] = h[order[size_t(j)]];
    }
  }

  SortedRow& prefix_sums() {
    const size_t n = wd.size();
    s0.assign(n + 1, 0.0);
    s1.assign(n + 1, 0.0);
    s2.assign(n + 1, 0.0);
    for (size_t j = 0; j < n; ++j) {
      const double w = wd[j];
      s0[j + 1] = s0[j] + hd[j];
      s1[j + 1] = s1[j] + hd[j] * w;
      s2[j + 1] = s2[j] + hd[j] * w * w;
    }
    return *this;
  }

  // Σ_{j∈[a,b)} h_j (w_j/s + c)².
  double clamped_sum(int64_t a, int64_t b, double s, double c) const {
    if (b <= a) return 0.0;
    const double S0 = s0[size_t(b)] - s0[size_t(a)], S1 = s1[size_t(b)] - s1[size_t(a)],
                 S2 = s2[size_t(b)] - s2[size_t(a)];
    return std::max(0.0, S2 / (s * s) + 2.0 * c * S1 / s + c * c * S0);
  }

  // neuqi_best_int_zero for x = w/s: with r = round(x) (non-increasing along the sorted row), the
  // code of x + z is r + z unless clamped: to qmax where r > qmax − z (a prefix of the row), to 0
  // where r < −z (a suffix).
  ZeroFit best_int_zero(double s, int qmax) const {
    const auto n = int64_t(wd.size());
    auto first_with_r_at_most = [&](double t) {  // first j with round(w_j/s) ≤ t
      int64_t lo = 0, hi = n;
      while (lo < hi) {
        const int64_t mid = (lo + hi) / 2;
        if (std::nearbyint(wd[size_t(mid)] / s) <= t)
          hi = mid;
        else
          lo = mid + 1;
      }
      return lo;
    };
    hi_end.resize(size_t(qmax) + 1);
    lo_begin.resize(size_t(qmax) + 1);
    for (int z = 0; z <= qmax; ++z) {
      hi_end[size_t(z)] = first_with_r_at_most(double(qmax - z));
      lo_begin[size_t(z)] = first_with_r_at_most(double(-z) - 1.0);
    }
    // Residual sums between consecutive boundaries (both lists are non-decreasing in z).
    cuts.assign(hi_end.begin(), hi_end.end());
    cuts.insert(cuts.end(), lo_begin.begin(), lo_begin.end());
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    at.assign(cuts.size(), 0.0);  // Σ residual over [cuts[0], cuts[i])
    for (size_t i = 1; i < cuts.size(); ++i)
      at[i] = at[i - 1] + residual_sum(wd.data(), hd.data(), cuts[i - 1], cuts[i], s);
    auto prefix = [&](int64_t pos) {
      return at[size_t(std::lower_bound(cuts.begin(), cuts.end(), pos) - cuts.begin())];
    };
    ZeroFit best{0.0, kInf};
    for (int z = 0; z <= qmax; ++z) {
      const int64_t a = hi_end[size_t(z)], b = std::max(a, lo_begin[size_t(z)]);
      const double f = clamped_sum(0, a, s, double(z - qmax)) + (prefix(b) - prefix(a)) +
                       clamped_sum(b, n, s, z);
      if (f < best.objective) best = {double(z), f};
    }
    return best;
  }
};

}  // namespace

double neuqi_objective(const double* x, const double* h, int64_t n, int qmax, double z) {
  double f = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double c = std::clamp(std::nearbyint(x[i] + z), 0.0, double(qmax));
    const double e = x[i] + z - c;
    f += h[i] * e * e;
  }
  return f;
}

ZeroFit neuqi_best_zero(const double* x, const double* h, int64_t n, int qmax) {
  if (n <= 0) return {};
  const SortedRow row(x, h, n);
  ZeroFit r = sweep_real_zero(row.wd.data(), row.hd.data(), n, qmax);
  r.objective = neuqi_objective(x, h, n, qmax, r.zero);
  return r;
}

ZeroFit neuqi_best_int_zero(const double* x, const double* h, int64_t n, int qmax) {
  if (n <= 0) return {};
  return SortedRow(x, h, n).prefix_sums().best_int_zero(1.0, qmax);
}

NeuqiFit neuqi_fit(const float* w, const double* h, int64_t n, int bits, bool int_zero) {
  const int qmax = (1 << bits) - 1;
  NeuqiFit best{1.0f, 0.0f, kInf};
  if (n <= 0) return {1.0f, 0.0f, 0.0};
  // h normalized per group: H_diag /= H_diag.sum(-1) (reference init_param).
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += h ? h[i] : 1.0;
  std::vector<double> hn(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    hn[size_t(i)] =
        (h && total > 0 && std::isfinite(total)) ? std::max(h[i], 0.0) / total : 1.0 / double(n);
  }
  const std::vector<double> wdbl(w, w + n);
  SortedRow row(wdbl.data(), hn.data(), n);
  // s₀ = (max w − min w) / qmax, 1 if below 1e-9 (reference: scale[scale < 1e-9] = 1).
  float base = (float(row.wd.front()) - float(row.wd.back())) / float(qmax);
  if (!(base >= 1e-9f)) base = 1.0f;

  std::vector<double> xd(static_cast<size_t>(n));
  auto consider = [&](float s) {
    if (!(s > 0.0f)) return;
    ZeroFit f;
    if (int_zero) {
      f = row.best_int_zero(s, qmax);
    } else {
      for (int64_t j = 0; j < n; ++j) xd[size_t(j)] = row.wd[size_t(j)] / s;
      f = sweep_real_zero(xd.data(), row.hd.data(), n, qmax);
      f.objective = neuqi_objective(xd.data(), row.hd.data(), n, qmax, f.zero);
    }
    const double obj = f.objective * double(s) * double(s);  // obj *= scale_ex²
    if (obj < best.objective) best = {s, float(f.zero), obj};
  };

  if (int_zero) {
    row.prefix_sums();
    constexpr int kSteps = 2048;  // grid_tot_steps
    for (int k = 1; k <= kSteps; ++k) consider(base * (float(k) / float(kSteps)));
  } else {
    constexpr int kCoarse = 64, kFine = 2048;  // grid_mid_tot_steps, grid_tot_steps
    for (int k = 1; k <= kCoarse; ++k) consider(base * (float(k) / float(kCoarse)));
    const float mid = best.scale;
    const int half = kFine / kCoarse / 2;  // ±16 fine steps around the coarse optimum
    for (int j = -half; j <= half; ++j)
      if (j != 0) consider(mid + base * (float(j) / float(kFine)));
  }
  return best;
}

}  // namespace loaq
