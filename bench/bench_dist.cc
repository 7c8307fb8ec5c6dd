// Communication of one decoder layer's quantization across R ranks, as the layer-wise pipeline
// does it: every statistics matrix of every linear group (H, and C and S for LoaQ) is reduced by
// dist::ordered_sum() to the group's owner (one fp32 partial per rank, as the ranks hold after
// their calibration chunks), then each owner broadcasts its quantized weights (fp32). Prints the
// bytes moved, measured by dist's accounting and by the formula of the README, and the time.
//   mpirun -n R ./build/release/loaq_bench_dist [hidden intermediate kv_dim method repeats]
//   (defaults: llama-mini-7m: 256 768 128 loaq 3)
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "dist/dist.h"

namespace loaq::dist {
namespace {

struct Mat {
  std::string name;
  int64_t rows, cols;
  int owner;
};

int run(int argc, char** argv) {
  const int64_t h = argc > 1 ? std::atoll(argv[1]) : 256;
  const int64_t i = argc > 2 ? std::atoll(argv[2]) : 768;
  const int64_t kv = argc > 3 ? std::atoll(argv[3]) : 128;
  const std::string method = argc > 4 ? argv[4] : "loaq";
  const int repeats = argc > 5 ? std::atoi(argv[5]) : 3;
  const bool loaq = method == "loaq";
  const int R = size();
  // Owners by cost: down_proj (the widest input) on the last rank, where the chain ends.
  auto owner = [&](int k) { return ((R - 1 - k) % R + R) % R; };
  std::vector<Mat> stats, weights;
  const struct {
    const char* name;
    int64_t n, out;
    bool w_out;
  } groups[] = {{"down", i, h, true},
                {"qkv", h, h + 2 * kv, false},
                {"o", h, h, true},
                {"gate_up", h, 2 * i, false}};
  for (int g = 0; g < 4; ++g) {
    const auto& G = groups[g];
    stats.push_back({fmt::format("{}.H", G.name), G.n, G.n, owner(g)});
    if (loaq) stats.push_back({fmt::format("{}.C", G.name), G.n, G.n, owner(g)});
    if (loaq && G.w_out) stats.push_back({fmt::format("{}.S", G.name), G.n, h, owner(g)});
    weights.push_back({G.name, G.out, G.n, owner(g)});
  }
  int64_t formula = 0;
  for (const auto& m : stats)
    formula += 8 * m.rows * m.cols * ((R - 1) + (m.owner != R - 1 && R > 1 ? 1 : 0));
  for (const auto& w : weights) formula += 4 * w.rows * w.cols * (R - 1);

  double best = 1e30;
  int64_t measured = 0;
  for (int rep = 0; rep < repeats; ++rep) {
    reset_comm_stats();
    barrier();
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& m : stats) {
      std::vector<double> sum(size_t(m.rows * m.cols), 0.0);
      const std::vector<float> mine(sum.size(), 0.5f + float(rank()));
      const std::vector<std::span<const float>> parts = {mine};
      ordered_sum(sum, R, parts, m.owner);  // R chunks: one per rank
    }
    for (const auto& w : weights) {
      std::vector<float> buf(size_t(w.rows * w.cols), 1.0f);
      broadcast(buf, w.owner);
    }
    barrier();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    measured = 0;
    for (const auto& c : gather_comm_stats()) measured += c.bytes;
  }
  if (is_root())
    fmt::print(
        "bench_dist: R={} method={} hidden={} intermediate={} kv={}: bytes per layer measured {} "
        "formula {} ({:.1f} MB), {:.3f} s per layer (best of {})\n",
        R, method, h, i, kv, measured, formula, double(formula) / 1e6, best, repeats);
  return measured == formula ? 0 : 1;
}

}  // namespace
}  // namespace loaq::dist

int main(int argc, char** argv) {
  const loaq::dist::Session session(&argc, &argv);
  return loaq::dist::run(argc, argv);
}
