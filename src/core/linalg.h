#pragma once
// Dense double-precision linear algebra for the layer statistics (H, C, Δ ...), through LAPACKE.
// Matrices are row-major.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace loaq {

struct MatD {
  int64_t rows = 0, cols = 0;
  std::vector<double> data;

  MatD() = default;
  MatD(int64_t r, int64_t c) : rows(r), cols(c), data(size_t(r * c), 0.0) {}
  double& operator()(int64_t r, int64_t c) { return data[size_t(r * cols + c)]; }
  double operator()(int64_t r, int64_t c) const { return data[size_t(r * cols + c)]; }
  double* row(int64_t r) { return data.data() + r * cols; }
  const double* row(int64_t r) const { return data.data() + r * cols; }
};

// In place: A (symmetric positive definite, n×n) ← its lower Cholesky factor L (A = L Lᵀ), the
// strict upper triangle zeroed. Returns false (A unspecified) when A is not positive definite.
bool cholesky_lower(MatD& a);
// In place: A ← A⁻¹ for SPD A, both triangles filled. Returns false when A is not SPD.
bool spd_inverse(MatD& a);
// In place: A ← the upper Cholesky factor U of A (A = Uᵀ U), strict lower triangle zeroed.
bool cholesky_upper(MatD& a);
// B ← A⁻¹ B given the lower Cholesky factor L of A (n×n) and B (n×k).
void cholesky_solve(const MatD& l, MatD& b);

// C = op(A) op(B) in double (BLAS dgemm).
MatD matmul(const MatD& a, bool trans_a, const MatD& b, bool trans_b);

// Symmetric C += Aᵀ A for A [rows, n] (float rows, double accumulation): the Hessian sum over a
// chunk of calibration rows. The chunk product is formed in fp32 (ssyrk) and added in fp64.
void add_gram(MatD& c, const float* a, int64_t rows, int64_t n);
// C += Aᵀ B for A [rows, n], B [rows, m] (fp32 product, fp64 sum).
void add_cross(MatD& c, const float* a, const float* b, int64_t rows, int64_t n, int64_t m);

// The same sums one block of rows at a time, with the same bits: `c` points at row i0 of the
// [n, n] (gram) or [n, m] (cross) sum, and rows [i0, i1) are added (i0 a multiple of kStatRows, i1
// too or n). add_gram_rows adds the upper triangle (j ≥ i) only; mirror_upper then copies it below
// the diagonal, which is what add_gram's lower triangle holds.
constexpr int64_t kStatRows = 1024;
void add_gram_rows(double* c, const float* a, int64_t rows, int64_t n, int64_t i0, int64_t i1);
void add_cross_rows(double* c, const float* a, const float* b, int64_t rows, int64_t n, int64_t m,
                    int64_t i0, int64_t i1);
void mirror_upper(MatD& c);

}  // namespace loaq
