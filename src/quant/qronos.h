#pragma once
// Qronos (Zhang et al. 2025) as its reference implementation runs it: Xilinx/brevitas
// src/brevitas/graph/qronos.py (commit b106358), driven by gpfq_mode.
//
// With H = X̂ᵀX̂ and G = XᵀX̂ (X the float-stream, X̂ the quantized-stream inputs; any common scale),
// λ = alpha · λmax(H), in the processing order (act-order: descending diag H):
//  1. column 0 is set to its least-squares optimum with the other columns at W
//       u₀ = (W G[:,0] − V[:,1:] H[0,1:]ᵀ) / H₀₀          (V = W with dead columns zeroed)
//     and coded q₀ = Q(u₀);
//  2. the other columns are re-solved in closed form given q₀ (ridge λ on both H and G):
//       V = (W (G + λI)[:,1:] − q₀ H[0,1:]) · (H[1:,1:] + λI)⁻¹;
//  3. columns 1…N−1 are coded by GPTQ error diffusion with the upper Cholesky factor of
//     (H[1:,1:] + λI)⁻¹.
// The grid is frozen from the original W (brevitas grids are fitted once, per channel or per group
// of original columns). Computed in double; codes agree with the reference on ≥ 97 % of weights.
// A NeUQI grid is fitted the same way (once, on the original W), weighted by
// neuqi_weights(H, percdamp) of the same H = X̂ᵀX̂, as the NeUQI reference fits it before its solve.
#include "core/linalg.h"
#include "core/tensor.h"
#include "quant/grid.h"
#include "quant/solver.h"

namespace loaq {

struct QronosConfig {
  double alpha = 1e-6;  // damping λ = alpha · λmax(H)
  bool act_order = false;
  double percdamp =
      0.01;  // only for a NeUQI grid's column weights diag(H) + percdamp · mean(diag H)
};

// `grid_weights` [in]: the column weights of the grid's fit when the caller has them (a GGUF
// imatrix fit requires them); null: a NeUQI grid's from h.
QuantizedLinear qronos_quantize(const Tensor& w, const MatD& h, const MatD& g,
                                const GridConfig& grid, const QronosConfig& cfg,
                                const double* grid_weights = nullptr);

// Largest eigenvalue of a symmetric matrix (LAPACK dsyevr).
double lambda_max(const MatD& a);

}  // namespace loaq
