#include "quant/solver.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/blas.h"
#include "core/error.h"
#include "core/simd.h"
#include "quant/gguf_grid.h"

namespace loaq {

namespace {

int64_t n_groups(const GridConfig& g, int64_t n) { return g.group < 0 ? 1 : (n + g.group - 1) / g.group; }

void check_shapes(const Tensor& w, const MatD* h) {
  if (w.ndim() != 2) fail("solver: weight must be 2-D, got {}", shape_str(w.shape));
  if (h && (h->rows != w.cols() || h->cols != w.cols()))
    fail("solver: Hessian is {}×{} but the weight has {} inputs", h->rows, h->cols, w.cols());
}

}  // namespace

void fit_group(const GridConfig& grid, const Tensor& w, int64_t c0, int64_t c1, int64_t g,
               QuantizedLinear& r, const double* hdiag) {
  const int64_t M = w.rows(), N = w.cols(), G = r.scale.cols();
  std::vector<float> s(static_cast<size_t>(M)), z(static_cast<size_t>(M));
  if (grid.is_gguf()) {
    fit_gguf_group(grid, w, c0, c1, s.data(), z.data(), hdiag);  // from the group's whole block
  } else {
    fit_grid(grid, w.ptr() + c0, M, c1 - c0, N, s.data(), z.data(), hdiag ? hdiag + c0 : nullptr);
  }
  for (int64_t row = 0; row < M; ++row) {
    r.scale.data[size_t(row * G + g)] = s[size_t(row)];
    r.zero.data[size_t(row * G + g)] = z[size_t(row)];
  }
}

void fit_static_groups(const GridConfig& grid, const Tensor& w, QuantizedLinear& r,
                       const double* hdiag) {
  const int64_t N = w.cols(), G = r.scale.cols(), gs = grid.group < 0 ? N : grid.group;
  if (grid.is_gguf() && grid.group > 0) {  // every block fitted once, for all of its groups
    fit_gguf_grid(grid, w, hdiag, r.scale.ptr(), r.zero.ptr());
    return;
  }
  for (int64_t g = 0; g < G; ++g)
    fit_group(grid, w, g * gs, std::min(N, (g + 1) * gs), g, r, hdiag);
}

std::vector<double> neuqi_weights(const MatD& h, double percdamp) {
  const int64_t n = h.rows;
  std::vector<double> d(static_cast<size_t>(n));
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += h(i, i);
  mean /= double(std::max<int64_t>(n, 1));
  for (int64_t i = 0; i < n; ++i) d[size_t(i)] = h(i, i) + percdamp * mean;
  return d;
}

QuantizedLinear rtn_quantize(const Tensor& w, const GridConfig& grid, const double* hdiag) {
  validate(grid);
  check_shapes(w, nullptr);
  const int64_t M = w.rows(), N = w.cols(), G = n_groups(grid, N);
  const int64_t gs = grid.group < 0 ? N : grid.group;
  QuantizedLinear r;
  r.q = Tensor({M, N});
  r.codes.assign(size_t(M * N), 0);
  r.scale = Tensor({M, G});
  r.zero = Tensor({M, G});
  r.g_idx.resize(size_t(N));
  r.perm.resize(size_t(N));
  std::iota(r.perm.begin(), r.perm.end(), 0);
  fit_static_groups(grid, w, r, hdiag);
  for (int64_t g = 0; g < G; ++g) {
    const int64_t c0 = g * gs, c1 = std::min(N, c0 + gs);
    for (int64_t row = 0; row < M; ++row) {
      const float sc = r.scale.data[size_t(row * G + g)], ze = r.zero.data[size_t(row * G + g)];
      for (int64_t c = c0; c < c1; ++c) {
        const float code = quantize_code(grid, w.data[size_t(row * N + c)], sc, ze);
        r.codes[size_t(row * N + c)] = int32_t(code);
        r.q.data[size_t(row * N + c)] = dequantize(code, sc, ze);
      }
    }
    for (int64_t c = c0; c < c1; ++c) r.g_idx[size_t(c)] = int32_t(g);
  }
  return r;
}

MatD inverse_cholesky_upper(MatD h, double& damp, int& raises) {
  const int64_t n = h.rows;
  if (!(damp >= 0) || !std::isfinite(damp)) damp = 0;
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += h(i, i);
  mean_diag /= double(std::max<int64_t>(n, 1));
  for (int attempt = 0;; ++attempt) {
    MatD a = h;
    for (int64_t i = 0; i < n; ++i) a(i, i) += damp;
    if (spd_inverse(a) && cholesky_upper(a)) {
      bool finite = true;
      for (double v : a.data) finite = finite && std::isfinite(v);
      if (finite) return a;
    }
    if (attempt == 8)
      fail("Hessian of size {} is not positive definite even with damping {:.3g} (mean diagonal {:.3g}); "
           "the calibration inputs are degenerate",
           n, damp, mean_diag);
    ++raises;
    damp = damp > 0 ? damp * 10.0 : std::max(1e-8 * mean_diag, 1e-12);
  }
}

QuantizedLinear gptq_quantize(const Tensor& w_in, const MatD& h_in, const GridConfig& grid,
                              const SolverConfig& cfg, const GptaqTerm* gptaq,
                              const double* grid_weights) {
  validate(grid);
  check_shapes(w_in, &h_in);
  return gptq_quantize(w_in, h_in, gptq_factor(h_in, cfg), grid, cfg, gptaq, grid_weights);
}

namespace {

// GPTAQ's P = α · triu₁(dXXT_p Uᵀ) · U in float32 (dXXT_p: dXXT in processing order, dead columns
// zeroed), by two triangular products (2·N³ flops).
std::vector<float> gptaq_p(const MatD& d, const GptqFactor& f, double alpha) {
  const int64_t N = f.n;
  std::vector<float> p(size_t(N * N));
#pragma omp parallel for schedule(static) if (N > 256)
  for (int64_t i = 0; i < N; ++i) {
    const double* dr = d.row(f.perm[size_t(i)]);
    float* pr = p.data() + i * N;
    for (int64_t j = 0; j < N; ++j) {
      const int32_t c = f.perm[size_t(j)];
      pr[j] = f.dead[size_t(c)] ? 0.0f : float(dr[c]);
    }
  }
  if (N == 0) return p;
  cblas_strmm(CblasRowMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, blasint(N),
              blasint(N), 1.0f, f.u.data(), blasint(N), p.data(), blasint(N));  // dXXT_p Uᵀ
  for (int64_t i = 0; i < N; ++i) std::fill_n(p.data() + i * N, i + 1, 0.0f);   // triu₁
  cblas_strmm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, blasint(N),
              blasint(N), float(alpha), f.u.data(), blasint(N), p.data(), blasint(N));
  return p;
}

// What the column loop of one block reads. The block is held transposed, [count, M] (a column of
// W per row of the block), so that the loop runs across rows in vector lanes, as gptq.py does
// on W1[:, i].
struct BlockCols {
  const GridConfig* grid;
  int64_t count, i1, n, m;
  const float* u;        // [n, n]
  const float* p;        // GPTAQ's P [n, n] or nullptr
  const int32_t* group;  // group of each step
  const float* scale_t;  // [groups, m]
  const float* zero_t;   // [groups, m]
};

// Rows [r0, r1) of a block (gptq.py's inner loop): each column coded in turn, its error spread
// over the rest of the block. wt, et, qt, ct: [count, m]; wv: [m] scratch. Compiled for AVX-512
// and AVX2 too (core/simd.h); this file is built with -ffp-contract=off so that, as in the
// reference, each product is rounded before it is subtracted.
LOAQ_SIMD_CLONES void block_columns(const BlockCols& b, int64_t r0, int64_t r1, float* wt,
                                    float* et, float* qt, int32_t* ct, float* wv) {
  const bool real_zero = b.grid->zero_in_rounding();  // quantize_code(grid, ...), hoisted
  const float qmin = b.grid->qmin(), qmax = b.grid->qmax();
  for (int64_t i = 0; i < b.count; ++i) {
    const int64_t col = b.i1 + i;
    const float* __restrict sc = b.scale_t + b.group[col] * b.m;
    const float* __restrict ze = b.zero_t + b.group[col] * b.m;
    const float* urow = b.u + col * b.n + b.i1;
    const float d = urow[i];
    float* __restrict wi = wt + i * b.m;
    float* __restrict ei = et + i * b.m;
    float* __restrict qi = qt + i * b.m;
    int32_t* __restrict ci = ct + i * b.m;
    float* __restrict wvr = wv;
    if (real_zero) {
      for (int64_t r = r0; r < r1; ++r) {
        const float w = wi[r];
        const float code = quantize_code_real_zero(w, sc[r], ze[r], qmin, qmax);
        const float q = dequantize(code, sc[r], ze[r]);
        qi[r] = q;
        ci[r] = int32_t(code);
        ei[r] = (w - q) / d;
        wvr[r] = w;
      }
    } else {
      for (int64_t r = r0; r < r1; ++r) {
        const float w = wi[r];
        const float code = quantize_code(w, sc[r], ze[r], qmin, qmax);
        const float q = dequantize(code, sc[r], ze[r]);
        qi[r] = q;
        ci[r] = int32_t(code);
        ei[r] = (w - q) / d;
        wvr[r] = w;
      }
    }
    if (b.p) {
      const float* prow = b.p + col * b.n + b.i1;
      for (int64_t j = i; j < b.count; ++j) {
        float* __restrict wj = wt + j * b.m;
        const float uj = urow[j], pj = prow[j];
        for (int64_t r = r0; r < r1; ++r) wj[r] -= ei[r] * uj - wvr[r] * pj;
      }
    } else {
      for (int64_t j = i; j < b.count; ++j) {
        float* __restrict wj = wt + j * b.m;
        const float uj = urow[j];
        for (int64_t r = r0; r < r1; ++r) wj[r] -= ei[r] * uj;
      }
    }
  }
}

constexpr int64_t kTile = 32;  // tiles of the transposes

// dst[k, row] = src[row, cols[k]] for k < ncols, src [rows, ld_src] (dst [ncols, rows]).
void transpose_cols(const float* src, int64_t ld_src, int64_t rows, const int32_t* cols,
                    int64_t ncols, float* dst) {
#pragma omp parallel for schedule(static) if (rows * ncols > 65536)
  for (int64_t k0 = 0; k0 < ncols; k0 += kTile)
    for (int64_t r0 = 0; r0 < rows; r0 += kTile)
      for (int64_t k = k0; k < std::min(ncols, k0 + kTile); ++k)
        for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
          dst[k * rows + r] = src[r * ld_src + cols[k]];
}

// dst[row, cols[k]] = src[k, row] for k < ncols (src [ncols, rows], dst row stride ld_dst).
template <class T>
void scatter_cols(const T* src, int64_t rows, const int32_t* cols, int64_t ncols, T* dst,
                  int64_t ld_dst) {
#pragma omp parallel for schedule(static) if (rows * ncols > 65536)
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t k0 = 0; k0 < ncols; k0 += kTile)
      for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
        for (int64_t k = k0; k < std::min(ncols, k0 + kTile); ++k)
          dst[r * ld_dst + cols[k]] = src[k * rows + r];
}

}  // namespace

QuantizedLinear gptq_quantize(const Tensor& w_in, const MatD& h_in, const GptqFactor& f,
                              const GridConfig& grid, const SolverConfig& cfg,
                              const GptaqTerm* gptaq, const double* grid_weights) {
  validate(grid);
  check_shapes(w_in, &h_in);
  if (cfg.blocksize < 1) fail("solver: block size must be positive (got {})", cfg.blocksize);
  const int64_t M = w_in.rows(), N = w_in.cols(), G = n_groups(grid, N);
  if (f.n != N || f.u.size() != size_t(N * N))
    fail("solver: the Hessian factor is for {} inputs, the weight has {}", f.n, N);
  const int64_t gs = grid.group < 0 ? N : grid.group;
  const bool grouped = grid.group > 0;
  for (float v : w_in.data)
    if (!std::isfinite(v)) fail("solver: the target weight holds a non-finite value");
  if (gptaq && (!gptaq->dxxt || gptaq->dxxt->rows != N || gptaq->dxxt->cols != N))
    fail("GPTAQ: dXXT must be {}×{}", N, N);

  QuantizedLinear r;
  r.scale = Tensor({M, G});
  r.zero = Tensor({M, G});
  r.damp = f.damp;
  r.damp_raises = f.damp_raises;
  r.dead_columns = f.dead_columns;
  r.perm = f.perm;

  // NeUQI: weights diag(H + λI) of the undamped H as given; its grids are fitted once before the
  // solve (the reference's init_param), so groups are static.
  const std::vector<double> hw =
      grid.neuqi() && !grid_weights ? neuqi_weights(h_in, cfg.percdamp) : std::vector<double>();
  const double* hdiag = grid_weights ? grid_weights : hw.empty() ? nullptr : hw.data();
  // GGUF grids are fixed per block of the original columns: static too.
  const bool static_groups = cfg.static_groups || grid.neuqi() || grid.is_gguf();

  // Per-channel grid: fitted once on the weight as given (before dead columns are zeroed).
  if (!grouped) fit_group(grid, w_in, 0, N, 0, r, hdiag);

  // Dead inputs: their weights are zeroed (gptq.py; H_ii = 1 is in the factor).
  Tensor W0;  // the weight with dead columns zeroed, original order (for static groups)
  const Tensor* wz = &w_in;
  if (f.dead_columns > 0) {
    W0 = w_in;
    for (int64_t row = 0; row < M; ++row)
      for (int64_t i = 0; i < N; ++i)
        if (f.dead[size_t(i)]) W0.data[size_t(row * N + i)] = 0.0f;
    wz = &W0;
  }

  // Static groups: grids of the original column groups, before any permutation or update.
  if (grouped && static_groups) fit_static_groups(grid, *wz, r, hdiag);

  // W in processing order (act-order permutation), transposed: Wt[k, row] = W[row, perm k]; a
  // block of columns is then a block of rows, updated in place.
  std::vector<float> Wt(size_t(N * M));
  transpose_cols(wz->ptr(), N, M, r.perm.data(), N, Wt.data());
  W0 = Tensor();

  const std::vector<float>& U = f.u;
  const std::vector<float> P =
      gptaq ? gptaq_p(*gptaq->dxxt, f, gptaq->alpha) : std::vector<float>();

  r.q = Tensor({M, N});
  r.codes.assign(size_t(M * N), 0);
  std::vector<int32_t> group_of_step(static_cast<size_t>(N));  // group whose grid coded step k
  // The grids transposed, [groups, M], for the column loop; refreshed as dynamic groups are fitted.
  std::vector<float> scale_t(size_t(G * M)), zero_t(size_t(G * M));
  const auto refresh_grid = [&](int64_t g0, int64_t g1) {
    for (int64_t row = 0; row < M; ++row)
      for (int64_t g = g0; g < g1; ++g) {
        scale_t[size_t(g * M + row)] = r.scale.data[size_t(row * G + g)];
        zero_t[size_t(g * M + row)] = r.zero.data[size_t(row * G + g)];
      }
  };
  if (!grouped || static_groups) refresh_grid(0, G);
  const int64_t B = cfg.blocksize;
  constexpr int64_t kRows = 256;  // rows per task of the column loop: the block stays in cache
  std::vector<float> Et, Qt, wv(static_cast<size_t>(M));
  std::vector<int32_t> Ct, iota_cols(static_cast<size_t>(std::min(N, std::max<int64_t>(gs, 1))));
  std::iota(iota_cols.begin(), iota_cols.end(), 0);
  for (int64_t i1 = 0; i1 < N; i1 += B) {
    const int64_t i2 = std::min(N, i1 + B), count = i2 - i1;
    float* W1 = Wt.data() + i1 * M;  // the block, [count, M]
    Et.resize(size_t(count * M));
    Qt.resize(size_t(count * M));
    Ct.resize(size_t(count * M));

    // Dynamic groups are fitted when their first column comes up, from the block-stale W (W is
    // only updated at block ends), exactly as gptq.py does; so they can be fitted column-group by
    // column-group ahead of the row loop.
    for (int64_t i = 0; i < count; ++i) {
      const int64_t col = i1 + i;
      if (grouped && !static_groups && col % gs == 0) {
        const int64_t c1 = std::min(N, col + gs);
        Tensor wg({M, c1 - col});  // W[:, col:c1] from the transposed copy
        scatter_cols(Wt.data() + col * M, M, iota_cols.data(), c1 - col, wg.ptr(), c1 - col);
        fit_group(grid, wg, 0, c1 - col, col / gs, r);
        refresh_grid(col / gs, col / gs + 1);
      }
      group_of_step[size_t(col)] =
          !grouped ? 0 : int32_t(static_groups ? r.perm[size_t(col)] / gs : col / gs);
    }

    // The column loop touches only the block. Rows are independent inside a block.
    const BlockCols bc{&grid,
                       count,
                       i1,
                       N,
                       M,
                       U.data(),
                       gptaq ? P.data() : nullptr,
                       group_of_step.data(),
                       scale_t.data(),
                       zero_t.data()};
    const int64_t tasks = (M + kRows - 1) / kRows;
#pragma omp parallel for schedule(static) if (M * count * count > 65536)
    for (int64_t t = 0; t < tasks; ++t)
      block_columns(bc, t * kRows, std::min(M, (t + 1) * kRows), W1, Et.data(), Qt.data(),
                    Ct.data(), wv.data());
    // Codes and values to the original column order.
    scatter_cols(Qt.data(), M, r.perm.data() + i1, count, r.q.ptr(), N);
    scatter_cols(Ct.data(), M, r.perm.data() + i1, count, r.codes.data(), N);

    // Lazy update of the remaining columns, one sgemm: W[:, i2:] -= Err1 · U[i1:i2, i2:] (GPTAQ:
    // and += W1 · P[i1:i2, i2:]), in the transposed layout: Wt[i2:] -= U[i1:i2, i2:]ᵀ · Et.
    const int64_t rest = N - i2;
    if (rest > 0) {
      gemm(true, false, rest, M, count, -1.0f, U.data() + i1 * N + i2, N, Et.data(), M, 1.0f,
           Wt.data() + i2 * M, M);
      if (gptaq)
        gemm(true, false, rest, M, count, 1.0f, P.data() + i1 * N + i2, N, W1, M, 1.0f,
             Wt.data() + i2 * M, M);
    }
  }

  r.g_idx.assign(size_t(N), 0);
  for (int64_t k = 0; k < N; ++k) r.g_idx[size_t(r.perm[size_t(k)])] = group_of_step[size_t(k)];
  for (float v : r.q.data)
    if (!std::isfinite(v)) fail("solver: non-finite value in the quantized weight (damping {:.3g})", r.damp);
  return r;
}

}  // namespace loaq
