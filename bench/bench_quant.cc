// Speed of the quantizer's two matrix kernels against this CPU's own sgemm, measured in the same
// run: the Hessian accumulation H += XᵀX (fp32 SYRK/GEMM tiles per chunk of T calibration rows,
// fp64 sum) and the GPTQ solve of a square layer (one fp32 Cholesky and triangular inverse,
// lazy-block updates by sgemm).
//   ./build/release/loaq_bench_quant
// FLOPs counted: sgemm 2mnk; H accumulation T·N·(N+1) (the SYRK triangle); GPTQ solve M·N² (the
// lazy block updates, 2·M·N²/2) + 2/3·N³ (the factor: Cholesky of J H J and one triangular
// inverse; the reference's three steps would be 4/3·N³). Rates are reported as GFLOP/s and as a
// fraction of the best sgemm rate.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <random>

#include "core/blas.h"
#include "core/linalg.h"
#include "quant/solver.h"

namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

void record(benchmark::State& st, double flops) {
  st.counters["GFLOP/s"] = benchmark::Counter(flops * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_Sgemm(benchmark::State& st) {
  const int64_t n = st.range(0);
  const auto a = randn(size_t(n * n), 1), b = randn(size_t(n * n), 2);
  std::vector<float> c(size_t(n * n));
  for (auto _ : st) {
    loaq::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  record(st, 2.0 * double(n) * double(n) * double(n));
}

void BM_HessianAccumulation(benchmark::State& st) {
  const int64_t n = st.range(0), T = st.range(1);
  const auto x = randn(size_t(T * n), 3);
  loaq::MatD h(n, n);
  for (auto _ : st) {
    loaq::add_gram(h, x.data(), T, n);
    benchmark::DoNotOptimize(h.data.data());
  }
  record(st, double(T) * double(n) * double(n + 1));
}

void BM_GptqSolve(benchmark::State& st) {
  const int64_t n = st.range(0), T = 2 * n;
  const auto x = randn(size_t(T * n), 4);
  loaq::MatD h(n, n);
  loaq::add_gram(h, x.data(), T, n);
  loaq::Tensor w({n, n});
  w.data = randn(size_t(n * n), 5);
  loaq::GridConfig grid;
  grid.bits = 3;
  for (auto _ : st) {
    auto q = loaq::gptq_quantize(w, h, grid, loaq::SolverConfig{});
    benchmark::DoNotOptimize(q.q.data.data());
  }
  record(st, double(n) * double(n) * double(n) + 2.0 / 3.0 * double(n) * double(n) * double(n));
}

BENCHMARK(BM_Sgemm)->Arg(1024)->Arg(2048)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_HessianAccumulation)
    ->Args({2048, 2048})
    ->Args({4096, 2048})
    ->Args({4096, 8192})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);
BENCHMARK(BM_GptqSolve)->Arg(2048)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

// Collects each run's GFLOP/s to print the ratios against the sgemm peak at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      const double wall = r.counters.at("GFLOP/s").value;
      // Per process-CPU-second (all threads): what a shared, oversubscribed machine still shows.
      const double cpu = wall * r.real_accumulated_time / r.cpu_accumulated_time;
      rates_.push_back({r.benchmark_name(), wall, cpu});
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    double peak = 0, peak_cpu = 0;
    for (const auto& r : rates_)
      if (r.name.rfind("BM_Sgemm", 0) == 0) {
        peak = std::max(peak, r.wall);
        peak_cpu = std::max(peak_cpu, r.cpu);
      }
    fmt::print("\nsgemm peak on this CPU: {:.1f} GFLOP/s wall, {:.1f} GFLOP per CPU-second\n", peak,
               peak_cpu);
    for (const auto& r : rates_)
      if (r.name.rfind("BM_Sgemm", 0) != 0)
        fmt::print("{:<58} {:8.1f} GFLOP/s = {:5.1f}% of sgemm peak (per CPU-second: {:5.1f}%)\n",
                   r.name, r.wall, 100.0 * r.wall / peak, 100.0 * r.cpu / peak_cpu);
  }

 private:
  struct Rate {
    std::string name;
    double wall, cpu;
  };
  std::vector<Rate> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
