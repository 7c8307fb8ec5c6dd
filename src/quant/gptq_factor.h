#pragma once
// The inverse-Hessian factor the GPTQ solve runs on (paper eq. 32, appendix B.1), computed once
// and shareable: LoaQ's target (quant/loaq.h) applies (H + λI)⁻¹ through the same factor.
//
// H is taken in processing order (act-order: columns by descending diag H, stable for ties), with
// dead inputs (diag H = 0) set to H_ii = 1 as gptq.py does, damped by λ = percdamp · mean(diag H)
// (raised tenfold, up to 8 times, when H + λI is not positive definite in float32). U is the
// upper Cholesky factor of (H + λI)⁻¹, from one float32 Cholesky and one triangular inverse
// (core/cholesky.h), as the reference works in float32.
#include <cstdint>
#include <vector>

#include "core/linalg.h"

namespace loaq {

struct SolverConfig;

struct GptqFactor {
  int64_t n = 0;
  std::vector<float> u;       // [n, n] row-major, upper: (H_p + λI)⁻¹ = UᵀU
  std::vector<int32_t> perm;  // step k processes input perm[k]
  std::vector<uint8_t> dead;  // [n], by input: diag H = 0
  int64_t dead_columns = 0;
  double damp = 0;      // λ finally used
  int damp_raises = 0;  // times λ was raised
};

// Throws if H is not square or not positive definite even with the raised damping.
GptqFactor gptq_factor(const MatD& h, const SolverConfig& cfg);

}  // namespace loaq
