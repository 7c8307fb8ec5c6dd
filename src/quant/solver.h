#pragma once
// Solvers that turn a target weight W̃ [out, in] into codes on a grid: round-to-nearest, and
// GPTQ / LDLQ (paper eq. 32) driven by the Hessian H = X̂ᵀX̂, with GPTAQ's asymmetric term as an
// option. Written to follow IST-DASLab/gptq `fasterquant` line by line (float32 updates, the same
// operation order) so that codes agree with the reference.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linalg.h"
#include "core/lowrank_branch.h"
#include "core/tensor.h"
#include "quant/gptq_factor.h"
#include "quant/grid.h"

namespace loaq {

struct SolverConfig {
  double percdamp = 0.01;      // damping λ = percdamp · mean(diag H) added to diag H
  int64_t blocksize = 128;     // lazy-batch block size
  bool act_order = false;      // process columns by descending diag H
  bool static_groups = false;  // fit group grids on the original W before any update
};

struct QuantizedLinear {
  Tensor q;                    // dequantized weight [out, in], original column order
  std::vector<int32_t> codes;  // [out, in]
  Tensor scale, zero;          // [out, groups]
  std::vector<int32_t> g_idx;  // [in]: group of each input column
  std::vector<int32_t> perm;   // [in]: step k quantized column perm[k]
  double damp = 0;             // damping finally added to diag H
  int damp_raises = 0;         // times the damping had to be raised to make H positive definite
  int64_t dead_columns = 0;    // inputs with diag H = 0 (their weights are set to zero)
  // The linear's low-rank branch (issue 14, quant/lowrank.h), when the run fits one: y = q x +
  // L2 (L1 x). `q` is the main layer alone.
  std::optional<LowRankBranch> lowrank;
};

// Fits the grid to columns [c0, c1) of w [out, in] and stores each row's scale and zero as group
// `g` of r.scale / r.zero (which must be [out, groups]). `hdiag` [in]: the column weights of a
// NeUQI grid (neuqi_weights), indexed by the columns of w; other grids ignore it.
void fit_group(const GridConfig& grid, const Tensor& w, int64_t c0, int64_t c1, int64_t g,
               QuantizedLinear& r, const double* hdiag = nullptr);

// Fits every group of the original columns of w (static groups) into r.scale / r.zero, with the
// column weights `hdiag` of a weighted fit (grid.fit_weighted()); a GGUF grid fits each block
// once for all of its groups.
void fit_static_groups(const GridConfig& grid, const Tensor& w, QuantizedLinear& r,
                       const double* hdiag = nullptr);

// The column weights of a NeUQI grid, as the reference takes them: diag(H + λI) with
// λ = percdamp · mean(diag H), the damping its solvers add before the grid is fitted
// (efsotr/NeUQI quant.py: LDLQ/GPTQ/RTN.__init__ add it, QuantMethod.__call__ passes H.diag()).
std::vector<double> neuqi_weights(const MatD& h, double percdamp);

// Round to nearest on the grid: per channel, or per group of original columns. `hdiag` [in]: the
// column weights of a weighted fit (grid.fit_weighted(): NeUQI's neuqi_weights, a GGUF imatrix
// fit's gguf_imatrix_weights), which it requires.
QuantizedLinear rtn_quantize(const Tensor& w, const GridConfig& grid,
                             const double* hdiag = nullptr);

// The optional asymmetric-calibration term of GPTAQ (Intelligent-Computing-Lab-Yale/GPTAQ,
// gptaq_utils.py): dxxt[j,k] = Σ_t (X − X̂)[t,j] X̂[t,k] (= Cᵀ in the paper's notation) and α.
struct GptaqTerm {
  const MatD* dxxt = nullptr;
  double alpha = 0.25;
};

// GPTQ on target `w` with Hessian `h` (a sum or a mean over tokens: the scale cancels). A NeUQI
// grid is fitted once on `w` before the solve, per channel or per group of original columns (as
// static groups), with the weights neuqi_weights(h, cfg.percdamp), as the reference's init_param;
// `grid_weights` [in], when given, are the column weights of the grid's fit instead (a GGUF
// imatrix fit requires them: gguf_imatrix_weights of the statistics, whose token count h lacks).
// With `gptaq`, each update also adds w·P, P = α · triu₁(dXXT · Uᵀ) · U, U the upper Cholesky
// factor of H⁻¹. If H + λI is not positive definite, λ is raised tenfold (up to 8 times) and the
// raise is recorded; then it is an error. Never returns NaN.
QuantizedLinear gptq_quantize(const Tensor& w, const MatD& h, const GridConfig& grid,
                              const SolverConfig& cfg, const GptaqTerm* gptaq = nullptr,
                              const double* grid_weights = nullptr);

// The same solve with the factor of H computed beforehand (gptq_factor(h, cfg), e.g. shared with
// LoaQ's target). The solve is blocked: the column loop of a block touches only the block, and
// the rest of W is updated by one sgemm per block (M·N² flops); the factor costs 2/3·N³.
QuantizedLinear gptq_quantize(const Tensor& w, const MatD& h, const GptqFactor& factor,
                              const GridConfig& grid, const SolverConfig& cfg,
                              const GptaqTerm* gptaq = nullptr,
                              const double* grid_weights = nullptr);

// The upper Cholesky factor U of (H + λI)⁻¹ (H⁻¹ = UᵀU), raising λ tenfold when needed, in
// double by the reference's three steps (Cholesky, inverse, Cholesky): the check of gptq_factor.
// `damp` in: the first λ; out: the λ used. `raises` counts the increases.
MatD inverse_cholesky_upper(MatD h, double& damp, int& raises);

}  // namespace loaq
