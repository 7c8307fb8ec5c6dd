// The quantizer's stages for one decoder layer of Llama-3-8B's shape (hidden 4096, intermediate
// 14336, 32 heads, 8 KV heads of 128) at 16 × 2048 calibration tokens, with random weights and
// activations of the right shapes (no checkpoint): the statistics H, C, S of each sub-layer's
// inputs (fp32 products per 2048-row chunk summed in fp64) and each solve (GPTQ, GPTAQ, Qronos,
// LoaQ's target + GPTQ). Each figure is given as GFLOP/s and as a fraction of the sgemm rate
// measured just before it (2048³), since the machine is shared; and the same per second of process
// CPU time (all threads), which an oversubscribed machine distorts less.
//   ./build/release/loaq_bench_layer_stages [--windows 16] [--seqlen 2048] [--stages stats,gptq,
//       gptaq,qronos,loaq] [--linears qkv,o,gateup,down] [--threads N]
// FLOPs counted: H T·N·(N+1); C and S 2·T·N·M; GPTQ M·N² (trailing updates) + 2/3·N³ (one
// Cholesky, one triangular inverse); GPTAQ that + M·N² + 2·N³ (P); Qronos 2/3·N³ + 5·M·N² (in
// fp64: W·G, two trmm, the diffusion); LoaQ's target 4·M·N² (C·Wᵀ, two trmm on the GPTQ factor).
// Memory: about 6 GB for down_proj (N = 14336: H and C in fp64); Qronos on down_proj needs about
// 10 GB and is left out unless --linears names `down` and --qronos-down is given.
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "core/blas.h"
#include "core/env.h"
#include "core/linalg.h"
#include "quant/loaq.h"
#include "quant/qronos.h"
#include "quant/solver.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Process CPU time (all threads), seconds.
double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Rate {
  double wall, cpu;  // GFLOP per wall second, per process-CPU second
};

// The sgemm rate now (best of two 2048³ products).
Rate sgemm_rate() {
  static const auto a = randn(size_t(2048) * 2048, 1), b = randn(size_t(2048) * 2048, 2);
  static std::vector<float> c(size_t(2048) * 2048);
  Rate best{0, 0};
  for (int r = 0; r < 2; ++r) {
    const auto t = Clock::now();
    const double c0 = cpu_now();
    loaq::gemm(false, false, 2048, 2048, 2048, 1.0f, a.data(), 2048, b.data(), 2048, 0.0f, c.data(),
               4096);
    const double g = 2.0 * 2048.0 * 2048.0 * 2048.0 / 1e9;
    best.wall = std::max(best.wall, g / since(t));
    best.cpu = std::max(best.cpu, g / (cpu_now() - c0));
  }
  return best;
}

// Runs f once after measuring the sgemm rate; returns f's seconds.
template <class F>
double stage(const std::string& name, double flops, F&& f) {
  const Rate peak = sgemm_rate();
  const auto t = Clock::now();
  const double c0 = cpu_now();
  f();
  const double s = since(t), cpu = cpu_now() - c0;
  fmt::print(
      "{:<34} {:8.2f} s {:8.1f} GFLOP/s = {:5.1f}% of sgemm {:6.1f} GFLOP/s | per CPU-s {:5.1f}% "
      "of "
      "sgemm's {:6.1f}\n",
      name, s, flops / 1e9 / s, 100.0 * flops / 1e9 / s / peak.wall, peak.wall,
      100.0 * flops / 1e9 / cpu / peak.cpu, peak.cpu);
  std::fflush(stdout);
  return s;
}

struct Sub {
  std::string name;
  int64_t n, m;  // inputs, outputs (the linears of one W_in stacked)
  bool w_out;    // S is accumulated (sub-layer output linear)
};

bool has(const std::string& list, const std::string& item) {
  return ("," + list + ",").find("," + item + ",") != std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t windows = 16, seqlen = 2048;
  std::string stages = "stats,gptq,gptaq,qronos,loaq", linears = "qkv,o,gateup,down";
  int threads = 0;
  bool qronos_down = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--windows")
      windows = std::stoll(next());
    else if (a == "--seqlen")
      seqlen = std::stoll(next());
    else if (a == "--stages")
      stages = next();
    else if (a == "--linears")
      linears = next();
    else if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--qronos-down")
      qronos_down = true;
    else {
      fmt::print(stderr, "unknown argument {}\n", a);
      return 2;
    }
  }
  loaq::set_num_threads(threads);
  const int64_t hidden = 4096, inter = 14336, kv = 8 * 128, T = windows * seqlen, chunk = 2048;
  const std::vector<Sub> subs = {{"qkv", hidden, hidden + 2 * kv, false},
                                 {"o", hidden, hidden, true},
                                 {"gateup", hidden, 2 * inter, false},
                                 {"down", inter, hidden, true}};
  fmt::print("Llama-3-8B layer, {} × {} calibration tokens, {} threads\n", windows, seqlen,
             loaq::num_threads());
  double total_gptq = 0, total_gptaq = 0, total_qronos = 0, total_loaq = 0;
  for (const Sub& s : subs) {
    if (!has(linears, s.name)) continue;
    const int64_t N = s.n, M = s.m;
    const double dN = double(N), dM = double(M), dT = double(T);
    // One random chunk of each input, reused for every chunk (the rates do not depend on values).
    const auto xq = randn(size_t(chunk * N), 3), dx = randn(size_t(chunk * N), 4, 0.03f);
    const auto dh = randn(size_t(chunk * hidden), 5, 0.03f);
    loaq::MatD H(N, N), C(N, N), S;
    const bool need_c = has(stages, "gptaq") || has(stages, "qronos") || has(stages, "loaq");
    stage(s.name + ": H accumulation", dT * dN * (dN + 1), [&] {
      for (int64_t t = 0; t < T; t += chunk)
        loaq::add_gram(H, xq.data(), std::min(chunk, T - t), N);
    });
    if (need_c || has(stages, "stats"))
      stage(s.name + ": C accumulation", 2 * dT * dN * dN, [&] {
        for (int64_t t = 0; t < T; t += chunk)
          loaq::add_cross(C, xq.data(), dx.data(), std::min(chunk, T - t), N, N);
      });
    if (s.w_out && (has(stages, "loaq") || has(stages, "stats"))) {
      S = loaq::MatD(N, hidden);
      stage(s.name + ": S accumulation", 2 * dT * dN * double(hidden), [&] {
        for (int64_t t = 0; t < T; t += chunk)
          loaq::add_cross(S, xq.data(), dh.data(), std::min(chunk, T - t), N, hidden);
      });
    }
    for (int64_t i = 0; i < N; ++i) H(i, i) += 1e-3 * dT;  // full rank whatever the chunk reuse
    loaq::Tensor w({M, N});
    w.data = randn(size_t(M * N), 6, 0.02f);
    loaq::GridConfig grid;
    grid.bits = 3;
    const loaq::SolverConfig sc;
    const double gptq_flops = dM * dN * dN + 2.0 / 3.0 * dN * dN * dN;
    if (has(stages, "gptq")) {
      total_gptq +=
          stage(s.name + ": GPTQ solve", gptq_flops, [&] { loaq::gptq_quantize(w, H, grid, sc); });
    }
    if (has(stages, "gptaq")) {
      loaq::MatD d(N, N);  // dXXT = Cᵀ
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) d(j, i) = C(i, j);
      const loaq::GptaqTerm term{&d, 0.25};
      total_gptaq += stage(s.name + ": GPTAQ solve", gptq_flops + dM * dN * dN + 2 * dN * dN * dN,
                           [&] { loaq::gptq_quantize(w, H, grid, sc, &term); });
    }
    if (has(stages, "qronos") && (s.name != "down" || qronos_down)) {
      loaq::MatD g = H;  // G = H + Cᵀ
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) g(i, j) += C(j, i);
      total_qronos +=
          stage(s.name + ": Qronos solve (fp64)", 2.0 / 3.0 * dN * dN * dN + 5 * dM * dN * dN,
                [&] { loaq::qronos_quantize(w, H, g, grid, {}); });
    }
    if (has(stages, "loaq")) {
      loaq::GptqFactor f;
      loaq::Tensor target;
      total_loaq += stage(s.name + ": GPTQ factor", 2.0 / 3.0 * dN * dN * dN,
                          [&] { f = loaq::gptq_factor(H, sc); });
      total_loaq += stage(s.name + ": LoaQ target", 4 * dM * dN * dN, [&] {
        target = loaq::loaq_target(w, H, C, S.rows ? &S : nullptr, 0.5, 0.5, f);
      });
      total_loaq += stage(s.name + ": GPTQ on the target", dM * dN * dN,
                          [&] { loaq::gptq_quantize(target, H, f, grid, sc); });
    }
  }
  fmt::print(
      "\nsolve wall time over the linears run: GPTQ {:.2f} s, GPTAQ {:.2f} s, Qronos {:.2f} s, "
      "LoaQ {:.2f} s\n",
      total_gptq, total_gptaq, total_qronos, total_loaq);
  if (total_gptq > 0)
    fmt::print(
        "ratios to GPTQ: GPTAQ {:.2f}, Qronos {:.2f} (without down_proj unless --qronos-down), "
        "LoaQ {:.2f}\n",
        total_gptaq / total_gptq, total_qronos / total_gptq, total_loaq / total_gptq);
  return 0;
}
