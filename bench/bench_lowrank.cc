// Cost of the low-rank branch's SVD on one large linear (issue 14): LAPACK dgesdd against the
// randomized range finder (r + 10 columns, two power iterations), on the quantization error of a
// Llama-3-8B down_proj-shaped weight (4096 × 14336, Gaussian, 4-bit RTN per channel), and the
// share of the optimal energy the randomized one captures. Usage:
//   loaq_bench_lowrank [out=4096] [in=14336] [rank=32] [--no-full]
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>

#include "quant/lowrank.h"
#include "quant/solver.h"

using namespace loaq;

int main(int argc, char** argv) {
  int64_t out = 4096, in = 14336, r = 32;
  bool full = true;
  int pos = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-full") == 0) {
      full = false;
      continue;
    }
    const int64_t v = std::atoll(argv[i]);
    (pos == 0 ? out : pos == 1 ? in : r) = v;
    ++pos;
  }
  Tensor w({out, in});
  std::mt19937 g(0);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  for (float& x : w.data) x = nd(g);
  GridConfig grid;
  grid.bits = 4;
  Tensor e = w;
  {
    const QuantizedLinear q = rtn_quantize(w, grid);
    for (size_t i = 0; i < e.data.size(); ++i) e.data[i] -= q.q.data[i];
  }
  w = Tensor();
  double total = 0;
  for (float v : e.data) total += double(v) * v;
  using clk = std::chrono::steady_clock;
  auto secs = [](clk::time_point a) {
    return std::chrono::duration<double>(clk::now() - a).count();
  };

  auto t0 = clk::now();
  const TruncatedSvd rs = svd_randomized(to_matd(e), r, 10, 2, 0);
  const double t_rand = secs(t0);
  double cap_r = 0;
  for (double s : rs.s) cap_r += s * s;
  fmt::print("{}x{} rank {}: randomized (p=10, q=2) {:.2f} s, captured {:.6g} of ‖E‖² {:.6g}\n",
             out, in, r, t_rand, cap_r, total);
  if (!full) return 0;
  t0 = clk::now();
  const TruncatedSvd fs = svd_full(to_matd(e), r);
  const double t_full = secs(t0);
  double cap_f = 0;
  for (double s : fs.s) cap_f += s * s;
  fmt::print(
      "full dgesdd {:.2f} s, captured {:.6g}; randomized/full energy {:.4f}, error ratio {:.5f}\n",
      t_full, cap_f, cap_r / cap_f, (total - cap_r) / (total - cap_f));
  return 0;
}
