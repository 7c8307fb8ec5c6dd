#include "quant/qronos.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/cholesky.h"
#include "core/error.h"

namespace loaq {

double lambda_max(const MatD& a) {
  const auto n = lapack_int(a.rows);
  if (n == 0) return 0.0;
  MatD m = a;
  lapack_int found = 0;
  double w = 0, z = 0;
  std::vector<lapack_int> isuppz(2);
  const lapack_int info = LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'N', 'I', 'U', n, m.data.data(), n, 0.0, 0.0, n, n,
                                         0.0, &found, &w, &z, 1, isuppz.data());
  if (info != 0 || found != 1) fail("eigenvalue computation failed (LAPACK dsyevr info {})", info);
  return w;
}

QuantizedLinear qronos_quantize(const Tensor& w, const MatD& h_in, const MatD& g_in,
                                const GridConfig& grid, const QronosConfig& cfg,
                                const double* grid_weights) {
  validate(grid);
  const int64_t M = w.rows(), N = w.cols();
  if (h_in.rows != N || g_in.rows != N || h_in.cols != N || g_in.cols != N)
    fail("Qronos: H and G must be {}×{}", N, N);
  const int64_t G = grid.group < 0 ? 1 : (N + grid.group - 1) / grid.group;
  const int64_t gs = grid.group < 0 ? N : grid.group;

  QuantizedLinear r;
  r.scale = Tensor({M, G});
  r.zero = Tensor({M, G});
  r.g_idx.resize(size_t(N));
  const std::vector<double> hw =
      grid.neuqi() && !grid_weights ? neuqi_weights(h_in, cfg.percdamp) : std::vector<double>();
  // The frozen grid from the original W.
  fit_static_groups(grid, w, r, grid_weights ? grid_weights : hw.empty() ? nullptr : hw.data());
  for (int64_t c = 0; c < N; ++c) r.g_idx[size_t(c)] = int32_t(c / gs);

  r.perm.resize(size_t(N));
  std::iota(r.perm.begin(), r.perm.end(), 0);
  if (cfg.act_order)
    std::stable_sort(r.perm.begin(), r.perm.end(), [&](int32_t a, int32_t b) { return h_in(a, a) > h_in(b, b); });
  const auto& perm = r.perm;
  MatD H(N, N), Gm(N, N), Wp(M, N), Vp(M, N);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) {
      H(i, j) = h_in(perm[size_t(i)], perm[size_t(j)]);
      Gm(i, j) = g_in(perm[size_t(i)], perm[size_t(j)]);
    }
  for (int64_t row = 0; row < M; ++row)
    for (int64_t k = 0; k < N; ++k) {
      const int64_t c = perm[size_t(k)];
      Wp(row, k) = w.data[size_t(row * N + c)];
      Vp(row, k) = h_in(c, c) == 0.0 ? 0.0 : Wp(row, k);
      if (row == 0 && h_in(c, c) == 0.0) ++r.dead_columns;
    }

  r.damp = double(float(cfg.alpha * lambda_max(H)));

  // Codes and dequantized values of a column (in processing order k) from double values.
  std::vector<int32_t> codes_p(size_t(M * N));
  MatD Qp(M, N);
  auto code_column = [&](int64_t k, const double* col_vals, int64_t stride) {
    const int64_t gi = r.g_idx[size_t(perm[size_t(k)])];
    for (int64_t row = 0; row < M; ++row) {
      const float sc = r.scale.data[size_t(row * G + gi)], ze = r.zero.data[size_t(row * G + gi)];
      const float code = quantize_code(grid, float(col_vals[row * stride]), sc, ze);
      codes_p[size_t(row * N + k)] = int32_t(code);
      Qp(row, k) = dequantize(code, sc, ze);
    }
  };

  // Step 1: column 0 at its least-squares optimum with the others held at W (undamped H₀₀, G).
  std::vector<double> u0(static_cast<size_t>(M), 0.0);
  if (H(0, 0) != 0.0)
    for (int64_t row = 0; row < M; ++row) {
      double acc = 0;
      for (int64_t k = 0; k < N; ++k) acc += Wp(row, k) * Gm(k, 0);
      for (int64_t k = 1; k < N; ++k) acc -= Vp(row, k) * H(0, k);
      u0[size_t(row)] = acc / H(0, 0);
    }
  code_column(0, u0.data(), 1);

  if (N > 1) {
    // Step 2: V = (W (G + λI)[:,1:] − q₀ ⊗ H[0,1:]) · A, A = (H[1:,1:] + λI)⁻¹ = UᵀU, U from one
    // Cholesky and one triangular inverse (core/cholesky.h); V = ((R Uᵀ) U) by two trmm.
    const int64_t n1 = N - 1;
    std::vector<double> U(size_t(n1 * n1));
    for (int64_t i = 0; i < n1; ++i)
      for (int64_t j = 0; j < n1; ++j)
        U[size_t(i * n1 + j)] = H(i + 1, j + 1) + (i == j ? r.damp : 0.0);
    if (!upper_cholesky_of_inverse(U.data(), n1))
      fail("Qronos: H[1:,1:] + {:.3g}·I is not positive definite (degenerate calibration inputs)", r.damp);
    MatD Gd(N, n1);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < n1; ++j) Gd(i, j) = Gm(i, j + 1) + (i == j + 1 ? r.damp : 0.0);
    MatD V = matmul(Wp, false, Gd, false);  // [M, n1]
    for (int64_t row = 0; row < M; ++row)
      for (int64_t j = 0; j < n1; ++j) V(row, j) -= Qp(row, 0) * H(0, j + 1);
    cblas_dtrmm(CblasRowMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, blasint(M),
                blasint(n1), 1.0, U.data(), blasint(n1), V.data.data(), blasint(n1));
    cblas_dtrmm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, blasint(M),
                blasint(n1), 1.0, U.data(), blasint(n1), V.data.data(), blasint(n1));
    // Step 3: GPTQ diffusion with U over columns 1…N−1: the column loop touches only the block,
    // the rest of V is updated by one dgemm per block.
    constexpr int64_t kBlock = 128;
    std::vector<double> err(size_t(M * kBlock));
    for (int64_t i1 = 0; i1 < n1; i1 += kBlock) {
      const int64_t i2 = std::min(n1, i1 + kBlock), count = i2 - i1;
#pragma omp parallel for schedule(static) if (M * count * count > 65536)
      for (int64_t row = 0; row < M; ++row) {
        double* v = V.row(row);
        double* e1 = err.data() + row * count;
        for (int64_t i = i1; i < i2; ++i) {
          const int64_t gi = r.g_idx[size_t(perm[size_t(i + 1)])];
          const float sc = r.scale.data[size_t(row * G + gi)], ze = r.zero.data[size_t(row * G + gi)];
          const float code = quantize_code(grid, float(v[i]), sc, ze);
          const double q = dequantize(code, sc, ze);
          codes_p[size_t(row * N + i + 1)] = int32_t(code);
          Qp(row, i + 1) = q;
          const double* ur = U.data() + i * n1;
          const double e = (v[i] - q) / ur[i];
          for (int64_t j = i; j < i2; ++j) v[j] -= e * ur[j];
          e1[i - i1] = e;
        }
      }
      if (i2 < n1)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(M), blasint(n1 - i2),
                    blasint(count), -1.0, err.data(), blasint(count), U.data() + i1 * n1 + i2,
                    blasint(n1), 1.0, V.data.data() + i2, blasint(n1));
    }
  }

  r.q = Tensor({M, N});
  r.codes.assign(size_t(M * N), 0);
  for (int64_t k = 0; k < N; ++k) {
    const int64_t c = perm[size_t(k)];
    for (int64_t row = 0; row < M; ++row) {
      r.q.data[size_t(row * N + c)] = float(Qp(row, k));
      r.codes[size_t(row * N + c)] = codes_p[size_t(row * N + k)];
    }
  }
  return r;
}

}  // namespace loaq
