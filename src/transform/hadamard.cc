#include "transform/hadamard.h"

#include <fmt/format.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>
#include <random>
#include <set>

#include "core/blas.h"
#include "core/error.h"

namespace loaq {

bool is_pow2(int64_t n) {
  return n > 0 && (n & (n - 1)) == 0;
}

void fwht(float* x, int64_t n) {
  if (!is_pow2(n)) fail("fwht: length {} is not a power of two", n);
  for (int64_t h = 1; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
}

namespace {

using Mat = std::vector<int8_t>;  // row-major ±1 matrix

// ---- GF(q), q = p^k (k ≤ 3): elements are the integers 0..q−1, read as base-p digit vectors
// (coefficients of a polynomial in x), arithmetic modulo a monic irreducible polynomial of degree
// k.
struct FiniteField {
  int p = 0, k = 0, q = 0;
  std::vector<int> red;  // x^k = −Σ red[i] x^i

  std::vector<int> digits(int a) const {
    std::vector<int> d(static_cast<size_t>(k));
    for (int i = 0; i < k; ++i, a /= p) d[size_t(i)] = a % p;
    return d;
  }
  int value(const std::vector<int>& d) const {
    int a = 0;
    for (int i = k - 1; i >= 0; --i) a = a * p + d[size_t(i)];
    return a;
  }
  int sub(int a, int b) const {
    auto da = digits(a), db = digits(b);
    for (int i = 0; i < k; ++i) da[size_t(i)] = (da[size_t(i)] - db[size_t(i)] + p) % p;
    return value(da);
  }
  int mul(int a, int b) const {
    const auto da = digits(a), db = digits(b);
    std::vector<int> c(size_t(2 * k), 0);
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j)
        c[size_t(i + j)] = (c[size_t(i + j)] + da[size_t(i)] * db[size_t(j)]) % p;
    for (int t = 2 * k - 2; t >= k; --t) {  // c_t x^t = c_t x^{t−k} · (−Σ red[i] x^i)
      const int ct = c[size_t(t)];
      c[size_t(t)] = 0;
      for (int i = 0; i < k; ++i)
        c[size_t(t - k + i)] = ((c[size_t(t - k + i)] - ct * red[size_t(i)]) % p + p) % p;
    }
    c.resize(size_t(k));
    return value(c);
  }
};

// GF(q) for q a prime power p^k with k ≤ 3 (then a polynomial of degree k is irreducible iff it
// has no root in GF(p)); nullopt-like empty field otherwise.
FiniteField make_field(int q) {
  FiniteField f;
  int p = 2;
  while (q % p != 0) ++p;
  int k = 0, r = q;
  while (r % p == 0) r /= p, ++k;
  if (r != 1 || k > 3) return f;
  f.p = p, f.k = k, f.q = q;
  if (k == 1) {
    f.red = {0};  // x = 0: GF(p) itself (digits of length 1, no reduction ever happens)
    return f;
  }
  // The first monic polynomial x^k + Σ c_i x^i (in the order of c read as a base-p number) with no
  // root in GF(p).
  const int count = int(std::pow(p, k));
  for (int c = 0; c < count; ++c) {
    std::vector<int> co(static_cast<size_t>(k));
    for (int i = 0, t = c; i < k; ++i, t /= p) co[size_t(i)] = t % p;
    bool root = false;
    for (int x = 0; x < p && !root; ++x) {
      int v = 1;  // Horner on x^k + c_{k−1} x^{k−1} + … + c_0
      for (int i = k - 1; i >= 0; --i) v = (v * x + co[size_t(i)]) % p;
      root = v == 0;
    }
    if (!root) {
      f.red = co;
      return f;
    }
  }
  return FiniteField{};
}

// The quadratic character χ of GF(q) as a table over its elements: 0, +1 (non-zero square), −1.
std::vector<int> quadratic_character(const FiniteField& f) {
  std::vector<int> chi(size_t(f.q), -1);
  chi[0] = 0;
  for (int x = 1; x < f.q; ++x) chi[size_t(f.mul(x, x))] = 1;
  return chi;
}

// Paley construction I (q ≡ 3 mod 4): H = I + S of order q + 1, S = [[0, 1ᵀ], [−1, Q]] with the
// Jacobsthal matrix Q[a][b] = χ(a − b).
Mat paley1(int q) {
  const FiniteField f = make_field(q);
  if (f.q == 0 || q % 4 != 3)
    fail("internal error: Paley I needs a prime power q ≡ 3 mod 4 (got {})", q);
  const auto chi = quadratic_character(f);
  const int n = q + 1;
  Mat h(size_t(n * n));
  auto at = [&](int i, int j) -> int8_t& { return h[size_t(i * n + j)]; };
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      int s;
      if (i == 0 && j == 0)
        s = 0;
      else if (i == 0)
        s = 1;
      else if (j == 0)
        s = -1;
      else
        s = chi[size_t(f.sub(i - 1, j - 1))];
      at(i, j) = int8_t(s + (i == j ? 1 : 0));
    }
  return h;
}

// Paley construction II (q ≡ 1 mod 4): with the symmetric conference matrix C = [[0, 1ᵀ], [1, Q]],
// H = C ⊗ [[1, −1], [−1, −1]] + I ⊗ [[1, 1], [1, −1]], of order 2(q + 1).
Mat paley2(int q) {
  const FiniteField f = make_field(q);
  if (f.q == 0 || q % 4 != 1)
    fail("internal error: Paley II needs a prime power q ≡ 1 mod 4 (got {})", q);
  const auto chi = quadratic_character(f);
  const int c = q + 1, n = 2 * c;
  auto conf = [&](int i, int j) {
    if (i == j) return 0;
    if (i == 0 || j == 0) return 1;
    return chi[size_t(f.sub(i - 1, j - 1))];
  };
  Mat h(size_t(n * n));
  for (int i = 0; i < c; ++i)
    for (int j = 0; j < c; ++j) {
      const int cij = conf(i, j);
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
          const int s = (a == 1 && b == 1) ? -1 : (a == b ? 1 : -1);  // [[1, −1], [−1, −1]]
          const int e = (a == 1 && b == 1) ? -1 : 1;                  // [[1, 1], [1, −1]]
          h[size_t((2 * i + a) * n + 2 * j + b)] = int8_t(cij * s + (i == j ? e : 0));
        }
    }
  return h;
}

// Sylvester doubling: [[H, H], [H, −H]].
Mat sylvester(const Mat& h, int64_t n) {
  Mat d(size_t(4 * n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const int8_t v = h[size_t(i * n + j)];
      d[size_t(i * 2 * n + j)] = v;
      d[size_t(i * 2 * n + j + n)] = v;
      d[size_t((i + n) * 2 * n + j)] = v;
      d[size_t((i + n) * 2 * n + j + n)] = int8_t(-v);
    }
  return d;
}

// Williamson's construction: four symmetric circulant ±1 matrices A, B, C, D of order t with
// A² + B² + C² + D² = 4t I give the Hadamard matrix of order 4t
//   [[A, B, C, D], [−B, A, −D, C], [−C, D, A, −B], [−D, −C, B, A]].
// The defining sequences (first rows) are the published Williamson quadruples: t = 43 from
// M. Hall, Combinatorial Theory (2nd ed., 1983); t = 39 from S. London, "Constructing new Turyn
// type sequences, T-sequences and Hadamard matrices" (PhD thesis, 2013).
struct WilliamsonQuadruple {
  int t;
  const char* rows[4];
};
constexpr WilliamsonQuadruple kWilliamson[] = {
    {39,
     {"+++--+-+-----+--++----++--+-----+-+--++", "+++--++-+---+-+--+----+--+-+---+-++--++",
      "++++---+--++----+-+--+-+----++--+---+++", "+---++-+-+-----+++-++-+++-----+-+-++---"}},
    {43,
     {"++---++++-+--+--++--------++--+--+-++++---+", "+++-+-++--+-+-++++-+----+-++++-+-+--++-+-++",
      "++-++++++----+-+--++-++-++--+-+----++++++-+",
      "+---++--++++-+-+++-++--++-+++-+-++++--++---"}},
};

Mat williamson(int t) {
  for (const auto& wq : kWilliamson) {
    if (wq.t != t) continue;
    const int n = 4 * t;
    // block (bi, bj) of the 4×4 layout: which sequence, and its sign
    static constexpr int kWhich[4][4] = {{0, 1, 2, 3}, {1, 0, 3, 2}, {2, 3, 0, 1}, {3, 2, 1, 0}};
    static constexpr int kSign[4][4] = {
        {1, 1, 1, 1}, {-1, 1, -1, 1}, {-1, 1, 1, -1}, {-1, -1, 1, 1}};
    Mat h(size_t(n * n));
    for (int bi = 0; bi < 4; ++bi)
      for (int bj = 0; bj < 4; ++bj) {
        const char* s = wq.rows[kWhich[bi][bj]];
        for (int i = 0; i < t; ++i)
          for (int j = 0; j < t; ++j) {  // circulant: row i is the first row shifted right by i
            const int v = s[(j - i + t) % t] == '+' ? 1 : -1;
            h[size_t((bi * t + i) * n + bj * t + j)] = int8_t(kSign[bi][bj] * v);
          }
      }
    return h;
  }
  fail("internal error: no Williamson quadruple of order {}", t);
}

// A Hadamard matrix of a base order m (not a power of two).
Mat base_hadamard(int64_t m) {
  switch (m) {
    case 12:
      return paley1(11);
    case 20:
      return paley1(19);
    case 28:
      return paley1(27);  // GF(3^3)
    case 36:
      return paley2(17);
    case 40:
      return sylvester(paley1(19), 20);
    case 52:
      return paley2(25);  // GF(5^2)
    case 60:
      return paley1(59);
    case 108:
      return paley1(107);
    case 140:
      return paley1(139);
    case 148:
      return paley2(73);
    case 156:
      return williamson(39);
    case 172:
      return williamson(43);
    default:
      fail("internal error: no Hadamard construction of base order {}", m);
  }
}

const Mat& cached_base_hadamard(int64_t m) {
  static std::mutex mu;
  static std::map<int64_t, Mat> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(m);
  if (it == cache.end()) it = cache.emplace(m, base_hadamard(m)).first;
  return it->second;
}

// Standard normal deviates from a 64-bit Mersenne Twister (Box–Muller on 53-bit uniforms), so the
// same seed gives the same matrix on every platform.
std::vector<double> gaussian(size_t count, uint64_t seed) {
  std::mt19937_64 g(seed);
  auto uniform = [&] { return (double(g() >> 11) + 0.5) * 0x1p-53; };  // in (0, 1)
  std::vector<double> z(count);
  for (size_t i = 0; i < count; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform())), a = 2.0 * std::numbers::pi * uniform();
    z[i] = r * std::cos(a);
    if (i + 1 < count) z[i + 1] = r * std::sin(a);
  }
  return z;
}

void warn_fallback(int64_t n, uint64_t seed) {
  static std::mutex mu;
  static std::set<int64_t> warned;
  std::lock_guard<std::mutex> lock(mu);
  if (!warned.insert(n).second) return;
  fmt::print(stderr,
             "loaq: warning: no Hadamard matrix of size {} (supported: 2^k·m, m in 1, 12, 20, 28, "
             "36, 40, 52, 60, 108, 140, 148, 156, 172); using a random orthogonal matrix (seed {}) "
             "applied densely\n",
             n, seed);
}

}  // namespace

const std::vector<int64_t>& hadamard_base_orders() {
  static const std::vector<int64_t> orders = {12, 20, 28, 36, 40, 52, 60, 108, 140, 148, 156, 172};
  return orders;
}

int64_t hadamard_base_of(int64_t n) {
  if (n <= 0) return 0;
  if (is_pow2(n)) return 1;
  const auto& orders = hadamard_base_orders();
  for (auto it = orders.rbegin(); it != orders.rend(); ++it)
    if (n % *it == 0 && is_pow2(n / *it)) return *it;
  return 0;
}

std::vector<int8_t> hadamard_matrix(int64_t n) {
  const int64_t m = hadamard_base_of(n);
  if (m == 0) return {};
  Mat h = m == 1 ? Mat{1} : cached_base_hadamard(m);
  // H_n = H_m ⊗ H_{n/m}: Sylvester doubling of H_m k times gives H_{2^k} ⊗ H_m, so build the
  // Kronecker product in the order the transform uses (x viewed as [m, p]) explicitly.
  const int64_t p = n / m;
  Mat hp{1};
  for (int64_t s = 1; s < p; s *= 2) hp = sylvester(hp, s);
  Mat out(size_t(n * n));
  for (int64_t a = 0; a < m; ++a)
    for (int64_t b = 0; b < p; ++b)
      for (int64_t c = 0; c < m; ++c)
        for (int64_t d = 0; d < p; ++d)
          out[size_t((a * p + b) * n + c * p + d)] =
              int8_t(h[size_t(a * m + c)] * hp[size_t(b * p + d)]);
  return out;
}

std::vector<double> random_orthogonal(int64_t n, uint64_t seed) {
  if (n < 1) fail("random_orthogonal: size {} must be positive", n);
  std::vector<double> a = gaussian(size_t(n * n), seed);
  std::vector<double> tau(static_cast<size_t>(n));
  const auto ln = lapack_int(n);
  if (LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, ln, ln, a.data(), ln, tau.data()) != 0)
    fail("random_orthogonal: QR factorization of size {} failed", n);
  std::vector<double> rdiag(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rdiag[size_t(i)] = a[size_t(i * n + i)];
  if (LAPACKE_dorgqr(LAPACK_ROW_MAJOR, ln, ln, ln, a.data(), ln, tau.data()) != 0)
    fail("random_orthogonal: forming Q of size {} failed", n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (rdiag[size_t(j)] < 0) a[size_t(i * n + j)] = -a[size_t(i * n + j)];
  return a;
}

std::string Rotation::describe() const {
  std::string s = fallback ? fmt::format("random-orthogonal {} (seed {})", n, seed)
                  : m == 1 ? fmt::format("hadamard {}", n)
                  : p == 1 ? fmt::format("hadamard {}", m)
                           : fmt::format("hadamard {}x{}", m, p);
  if (!signs.empty()) s += fmt::format(" with random signs (seed {})", seed);
  return s;
}

Rotation hadamard_transform(int64_t n, uint64_t fallback_seed) {
  if (n < 1) fail("hadamard transform: size {} must be positive", n);
  Rotation r;
  r.n = n;
  r.seed = fallback_seed;
  const int64_t m = hadamard_base_of(n);
  if (m == 0) {
    warn_fallback(n, fallback_seed);
    r.fallback = true;
    r.m = n;
    r.p = 1;
    const auto q = random_orthogonal(n, fallback_seed ^ 0x9E3779B97F4A7C15ull);
    r.block.assign(q.begin(), q.end());
    return r;
  }
  r.m = m;
  r.p = n / m;
  if (m > 1) {
    const Mat& h = cached_base_hadamard(m);
    const double s = 1.0 / std::sqrt(double(m));
    r.block.resize(h.size());
    for (size_t i = 0; i < h.size(); ++i) r.block[i] = float(h[i] * s);
  }
  return r;
}

Rotation randomized_hadamard(int64_t n, uint64_t seed) {
  Rotation r = hadamard_transform(n, seed);
  std::mt19937_64 g(seed);
  r.signs.resize(size_t(n));
  for (auto& d : r.signs) d = (g() >> 63) ? 1.0f : -1.0f;
  return r;
}

void apply_rotation(const Rotation& r, float* x, int64_t rows) {
  const int64_t n = r.n, m = r.m, p = r.p;
  if (!r.signs.empty())
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < n; ++j) x[i * n + j] *= r.signs[size_t(j)];
  if (p == 1) {  // T x = B x for every row at once: X ← X Bᵀ
    if (m == 1) return;
    std::vector<float> y(size_t(rows * n));
    gemm(false, true, rows, n, n, 1.0f, x, n, r.block.data(), n, 0.0f, y.data(), n);
    std::copy(y.begin(), y.end(), x);
    return;
  }
  const float scale = 1.0f / std::sqrt(float(p));
#pragma omp parallel if (rows * n > (1 << 16))
  {
    std::vector<float> y(size_t(m > 1 ? n : 0));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
      float* xi = x + i * n;
      for (int64_t a = 0; a < m; ++a) fwht(xi + a * p, p);  // X H_p
      if (m > 1) {                                          // B (X H_p)
        gemm(false, false, m, p, m, scale, r.block.data(), m, xi, p, 0.0f, y.data(), p);
        std::copy(y.begin(), y.end(), xi);
      } else {
        for (int64_t j = 0; j < n; ++j) xi[j] *= scale;
      }
    }
  }
}

void apply_rotation_across(const Rotation& r, float* x, int64_t rows, int64_t inner) {
  const int64_t n = r.n, len = n * inner;
  std::vector<float> t(size_t(rows * len));  // [rows, inner, n]
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < inner; ++b)
        t[size_t(i * len + b * n + a)] = x[i * len + a * inner + b];
  apply_rotation(r, t.data(), rows * inner);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < inner; ++b)
        x[i * len + a * inner + b] = t[size_t(i * len + b * n + a)];
}

}  // namespace loaq
