// Cost of the low-rank branch's SVD on one large linear (issue 14): LAPACK dgesdd against the
// randomized range finder (r + 10 columns, two power iterations), on the quantization error of a
// Llama-3-8B down_proj-shaped weight (4096 × 14336, Gaussian, 4-bit RTN per channel), and the
// share of the optimal energy the randomized one captures. Usage:
//   loaq_bench_lowrank [out=4096] [in=14336] [rank=32] [--no-full]
//   loaq_bench_lowrank --descent   the loaq descent's gain over its svd start by bits and lr
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "quant/lowrank.h"
#include "quant/solver.h"

using namespace loaq;

namespace {

// A synthetic 256 × 192 error (a rank-4 part plus Gaussian noise), rank 16, 300 Adam steps without
// early stop: the quantized branch's error after the descent against its svd start.
int descent_table() {
  const int64_t out = 256, in = 192, r = 16;
  std::mt19937 g(8);
  std::normal_distribution<float> nd;
  Tensor e({out, in}), a({out, 4}), b({4, in});
  for (float& x : e.data) x = 0.01f * nd(g);
  for (float& x : a.data) x = 0.02f * nd(g);
  for (float& x : b.data) x = nd(g);
  for (int64_t i = 0; i < out; ++i)
    for (int64_t j = 0; j < in; ++j)
      for (int64_t k = 0; k < 4; ++k)
        e.data[size_t(i * in + j)] += a.data[size_t(i * 4 + k)] * b.data[size_t(k * in + j)];
  SvdOptions o;
  o.method = SvdMethod::kFull;
  const LowRankFactors init = fit_svd(e, r, o);
  fmt::print(
      "bits | lr 1e-4 | 3e-4 | 1e-3 | 3e-3 | 1e-2 | 3e-2   (error reduction vs the svd start)\n");
  for (int bits : {2, 3, 4, 6, 8}) {
    fmt::print("{:4} |", bits);
    for (double lr : {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2}) {
      DescentConfig c;
      c.bits = bits;
      c.steps = 300;
      c.lr = lr;
      c.patience = 0;
      const DescentResult d = descend_lowrank(e, init, c);
      fmt::print(" {:6.2f}% |", 100.0 * (1.0 - d.loss / d.loss_init));
    }
    fmt::print("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--descent") == 0) return descent_table();
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
