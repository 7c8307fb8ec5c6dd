#pragma once
// Hadamard matrices and the orthogonal transforms built from them (QuaRot's hadamard_utils, QuIP#'s
// matmul_had): a fast Walsh–Hadamard transform for powers of two, Hadamard matrices of the orders
// QuaRot needs built by the standard constructions (Paley I and II over GF(q), Sylvester doubling,
// Williamson quadruples), and for n = 2^k·m the Kronecker product H_m ⊗ H_{2^k} applied as a fast
// transform on the 2^k part and a dense m×m product. Sizes with no construction fall back to a
// seeded random orthogonal matrix (QR of a Gaussian), applied densely.
#include <cstdint>
#include <string>
#include <vector>

namespace loaq {

bool is_pow2(int64_t n);

// x ← H_n x in place for n a power of two (unnormalized Sylvester H_n: entries ±1, H Hᵀ = n I);
// O(n log n) butterflies.
void fwht(float* x, int64_t n);

// The orders m > 2 (not powers of two) for which a Hadamard matrix is constructed here; n = 2^k·m
// is then supported for every k ≥ 0.
const std::vector<int64_t>& hadamard_base_orders();

// A Hadamard matrix of order n (row-major n×n, entries ±1, H Hᵀ = n I), for n = 1, 2 and every
// n = 2^k·m with m in hadamard_base_orders() or m a power of two; empty when no construction here
// covers n. Constructions: Sylvester doubling, Paley I (q ≡ 3 mod 4, order q + 1), Paley II
// (q ≡ 1 mod 4, order 2(q + 1)), Williamson quadruples (orders 156 = 4·39 and 172 = 4·43).
std::vector<int8_t> hadamard_matrix(int64_t n);

// The factorization QuaRot's get_hadK uses: n = m·p with p a power of two and m either 1 or a base
// order (the largest one that fits). Returns m, or 0 when n has no such factorization.
int64_t hadamard_base_of(int64_t n);

// An orthogonal transform of vectors of length n:  x ↦ T · diag(d) · x.
// With a Hadamard construction, x is viewed as an [m, p] matrix X (row-major, p a power of two) and
// T x = B · X · H_p / √p with B = H_m / √m, i.e. T = (H_m ⊗ H_p) / √n, as QuaRot's
// matmul_hadU_cuda. For the fallback, m = n, p = 1 and B is a random orthogonal matrix.
struct Rotation {
  int64_t n = 0;
  int64_t m = 1, p = 1;
  std::vector<float> block;  // B [m, m], row-major (empty when m = 1)
  std::vector<float> signs;  // d (empty: no sign flips)
  bool fallback = false;     // no Hadamard construction of size n: B is random orthogonal
  uint64_t seed = 0;         // the seed of d and of the fallback's B
  // "hadamard 12x64", "hadamard 172", "random-orthogonal 100 (seed 0)", with "+ random signs".
  std::string describe() const;
};

// The normalized Hadamard transform T of size n (no signs). For a size with no construction: a
// random orthogonal matrix drawn from `fallback_seed`, with a warning on stderr (once per size).
Rotation hadamard_transform(int64_t n, uint64_t fallback_seed);
// The randomized Hadamard transform T · diag(d), d ∈ {±1}ⁿ drawn from `seed` (QuaRot's
// random_hadamard_matrix; QuIP#'s randomized Hadamard transformation).
Rotation randomized_hadamard(int64_t n, uint64_t seed);

// x_r ← T · diag(d) · x_r for each of the `rows` rows of x [rows, n].
void apply_rotation(const Rotation& r, float* x, int64_t rows);
// Across the first axis: each row of x [rows, n·inner], viewed as X [n, inner], becomes T·diag(d)·X
// (QuaRot's online "partial" Hadamard across attention heads, inner = head_dim).
void apply_rotation_across(const Rotation& r, float* x, int64_t rows, int64_t inner);

// A random orthogonal n×n matrix (row-major, double): QR of a standard Gaussian matrix drawn from
// `seed`, columns sign-fixed by diag(R) (QuaRot's random_orthogonal_matrix).
std::vector<double> random_orthogonal(int64_t n, uint64_t seed);

}  // namespace loaq
