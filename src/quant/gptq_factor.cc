#include "quant/gptq_factor.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/cholesky.h"
#include "core/error.h"
#include "quant/solver.h"

namespace loaq {

GptqFactor gptq_factor(const MatD& h, const SolverConfig& cfg) {
  const int64_t n = h.rows;
  if (h.cols != n) fail("solver: Hessian is {}×{}, not square", h.rows, h.cols);
  GptqFactor f;
  f.n = n;
  f.dead.assign(size_t(n), 0);
  std::vector<double> diag(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    diag[size_t(i)] = h(i, i);
    if (h(i, i) == 0.0) {  // gptq.py: H[dead, dead] = 1
      diag[size_t(i)] = 1.0;
      f.dead[size_t(i)] = 1;
      ++f.dead_columns;
    }
  }
  f.perm.resize(size_t(n));
  std::iota(f.perm.begin(), f.perm.end(), 0);
  if (cfg.act_order)
    std::stable_sort(f.perm.begin(), f.perm.end(),
                     [&](int32_t a, int32_t b) { return diag[size_t(a)] > diag[size_t(b)]; });
  double mean_diag = 0;
  for (double d : diag) mean_diag += d;
  mean_diag /= double(std::max<int64_t>(n, 1));
  f.damp = cfg.percdamp * mean_diag;
  if (!(f.damp >= 0) || !std::isfinite(f.damp)) f.damp = 0;

  f.u.resize(size_t(n * n));
  for (int attempt = 0;; ++attempt) {
    // H_p + λI in float32, H_p(i, j) = H(perm i, perm j); the diagonal summed in double.
#pragma omp parallel for schedule(static) if (n > 256)
    for (int64_t i = 0; i < n; ++i) {
      const double* hr = h.row(f.perm[size_t(i)]);
      float* ur = f.u.data() + i * n;
      for (int64_t j = 0; j < n; ++j) ur[j] = float(hr[f.perm[size_t(j)]]);
      ur[i] = float(diag[size_t(f.perm[size_t(i)])] + f.damp);
    }
    if (upper_cholesky_of_inverse(f.u.data(), n)) return f;
    if (attempt == 8)
      fail(
          "Hessian of size {} is not positive definite even with damping {:.3g} (mean diagonal "
          "{:.3g}); the calibration inputs are degenerate",
          n, f.damp, mean_diag);
    ++f.damp_raises;
    f.damp = f.damp > 0 ? f.damp * 10.0 : std::max(1e-8 * mean_diag, 1e-12);
  }
}

}  // namespace loaq
