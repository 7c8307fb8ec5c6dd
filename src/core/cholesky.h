#pragma once
// Blocked Cholesky factorization and triangular inverse on level-3 BLAS (trsm, syrk, trmm), in
// float or double, row-major. The recursion splits at fixed sizes, so the result does not depend
// on the number of threads (OpenBLAS's own potrf changes its blocking with the thread count, and
// its threaded form is slow on this machine).
//
// `upper_cholesky_of_inverse` is what the GPTQ solve needs (paper appendix B.1, eq. 32): the upper
// triangular U with A⁻¹ = UᵀU, the unique upper Cholesky factor of A⁻¹. With J the index-reversal
// matrix, factor J A J = L Lᵀ; then A⁻¹ = J L⁻ᵀ L⁻¹ J = (J L⁻¹ J)ᵀ (J L⁻¹ J), and J L⁻¹ J is upper
// triangular. One Cholesky and one triangular inverse (2/3·n³ flops) instead of the reference's
// Cholesky, inverse and second Cholesky (4/3·n³).
#include <cstdint>

namespace loaq {

// In place: the lower triangle of A (n×n, row stride lda, SPD) ← L with A = L Lᵀ. The strict upper
// triangle is neither read nor written. Returns false when A is not positive definite (a pivot is
// not positive or not finite); A is then unspecified.
template <class T>
bool cholesky_lower_blocked(T* a, int64_t n, int64_t lda);

// In place: the lower triangle of L (n×n, lower triangular, non-zero diagonal) ← L⁻¹. The strict
// upper triangle is neither read nor written.
template <class T>
void invert_lower_blocked(T* l, int64_t n, int64_t lda);

// In place: A (n×n symmetric positive definite, contiguous, both triangles filled) ← the upper
// Cholesky factor U of A⁻¹ (A⁻¹ = UᵀU), strict lower triangle zeroed. Returns false when A is not
// positive definite or the factor is not finite (A unspecified).
template <class T>
bool upper_cholesky_of_inverse(T* a, int64_t n);

}  // namespace loaq
