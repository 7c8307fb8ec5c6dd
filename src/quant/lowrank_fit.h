#pragma once
// The closed-form fitting rules of the low-rank branch (issue 14). Each takes the error to
// approximate, E [out, in] (E = W − Q(W) after the main solve; W itself with --lowrank-first), and
// returns L1 [r, in], L2 [out, r] with B = L2·L1 ≈ E. Weights are HF-layout, y = W x, so the
// activation weighting acts on E's input (column) side.
#include <cstdint>
#include <vector>

#include "core/linalg.h"
#include "core/tensor.h"
#include "quant/lowrank_quant.h"
#include "quant/lowrank_svd.h"

namespace loaq {

// ZeroQuant-V2 LoRC (Yao et al. 2023, §5): the truncated SVD E ≈ U_r Σ_r V_rᵀ, split evenly,
//   L2 = U_r Σ_r^½,  L1 = Σ_r^½ V_rᵀ.
// By Eckart–Young it minimises ‖E − L2 L1‖_F over rank r: the error² is Σ_{i>r} σ_i².
LowRankFactors fit_svd(const Tensor& e, int64_t r, const SvdOptions& o);

// LQER (Zhang et al. 2024, the reference's lqer_act.py): with s = mean |x| per input channel,
//   diag(s) Eᵀ = U Σ Vᵀ,  A = diag(s)⁻¹ U_r [in, r],  B = Σ_r V_rᵀ [r, out],  Eᵀ ≈ A B,
// i.e. (here on E diag(s) = V Σ Uᵀ, the same SVD) L2 = Bᵀ = V_r Σ_r, L1 = Aᵀ = U_rᵀ diag(s)⁻¹
// (Σ on L2, as the reference puts it on B). It minimises ‖(E − B) diag(s)‖_F. Channels with
// s_i < 1e-6 · max s are raised to that floor so diag(s) is invertible (ours; the reference leaves
// its clamp commented out).
LowRankFactors fit_lqer(const Tensor& e, int64_t r, const std::vector<double>& mean_abs_x,
                        const SvdOptions& o);

// The eigen-basis of the autocorrelation R = H/n used by QERA-exact / EoRA: R = Q Λ Qᵀ (LAPACK
// dsyevd), eigenvalues λ_i ≤ λmax · n · ε (n the dimension, ε the fp64 machine epsilon) dropped
// (EoRA clamps non-positive ones), so that P = Q₊ Λ₊^½ [n, k] satisfies R = P Pᵀ on range(R) and
// P⁺ = Λ₊^-½ Q₊ᵀ. Computed once for the linears that share an H (q/k/v, gate/up). Scaling H
// scales P only, which leaves the fit unchanged, so H may be a sum or a mean over tokens.
struct QeraBasis {
  MatD q;                      // [n, k]: the kept eigenvectors Q₊ (columns)
  std::vector<double> lambda;  // [k]: their eigenvalues, ascending
  int64_t dropped = 0;
};
QeraBasis qera_basis(const MatD& h);

// QERA-exact (Zhang et al. 2025, Theorem 1) ≡ EoRA (Liu et al. 2024, eq. 8): the minimiser of the
// output error E_x ‖(E − B) x‖² = tr((E − B) R (E − B)ᵀ) over rank-r B:
//   E P = U Σ Vᵀ,  B = U_r Σ_r V_rᵀ P⁺,  L2 = U_r Σ_r^½,  L1 = Σ_r^½ V_rᵀ P⁺, then each component
// rescaled so that column j of L2 and row j of L1 have equal norms (ours: a balanced split of B
// itself, independent of H's scale); its weighted error is Σ_{i>r} σ_i² (of E P).
LowRankFactors fit_qera(const Tensor& e, int64_t r, const QeraBasis& basis, const SvdOptions& o);

// ‖E − L2 L1‖²_F (fp32 product, fp64 sum).
double frobenius_error(const Tensor& e, const Tensor& l1, const Tensor& l2);
// tr((E − L2 L1) H (E − L2 L1)ᵀ), the activation-weighted error (fp64).
double weighted_error(const Tensor& e, const Tensor& l1, const Tensor& l2, const MatD& h);

// E [out, in] as fp64.
MatD to_matd(const Tensor& t);

}  // namespace loaq
