#pragma once
// Truncated singular value decompositions for the low-rank branch (issue 14), in fp64:
//  full        LAPACK dgesdd, all singular values, then the leading k kept;
//  randomized  the randomized range finder with subspace (power) iterations of Halko, Martinsson
//              and Tropp 2011 (Algorithm 4.4): Y = AΩ with Ω [n, k + p] Gaussian, Q = orth(Y),
//              then q times Q ← orth(A·orth(AᵀQ)); B = QᵀA, B = Ũ Σ Vᵀ, U = QŨ. Its error is
//              within a factor of the optimum that shrinks with p and q (their §10).
#include <cstdint>
#include <string>
#include <vector>

#include "core/linalg.h"

namespace loaq {

struct TruncatedSvd {
  MatD u;                 // [m, k], orthonormal columns
  std::vector<double> s;  // [k], descending
  MatD vt;                // [k, n], orthonormal rows
};

enum class SvdMethod { kAuto, kFull, kRandomized };
std::string svd_method_name(SvdMethod m);
// auto|full|randomized; throws naming --lowrank-svd.
SvdMethod parse_svd_method(const std::string& s);

struct SvdOptions {
  SvdMethod method = SvdMethod::kAuto;
  int64_t oversample = 10;  // p: extra columns of the range finder
  int power_iters = 2;      // q: subspace iterations
  uint64_t seed = 0;        // of Ω
};

// Which method `auto` picks for an m×n matrix and rank k: randomized when min(m, n) ≥ 1024 and
// k + p ≤ min(m, n)/4 (the range finder then costs O(mn(k+p)) against gesdd's O(mn·min(m,n))).
SvdMethod resolve_svd_method(const SvdOptions& o, int64_t m, int64_t n, int64_t k);

// The leading k ≤ min(m, n) singular triplets of `a` [m, n] by dgesdd (a is consumed).
TruncatedSvd svd_full(MatD a, int64_t k);
// The same by the randomized range finder (deterministic for a given seed).
TruncatedSvd svd_randomized(const MatD& a, int64_t k, int64_t oversample, int power_iters,
                            uint64_t seed);
// Dispatches on resolve_svd_method.
TruncatedSvd truncated_svd(MatD a, int64_t k, const SvdOptions& o);

}  // namespace loaq
