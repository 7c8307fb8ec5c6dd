// bf16 GEMM (core/bf16_gemm.h: oneDNN matmul, bf16 operands, fp32 sums) against this CPU's
// sgemm on the linear-layer products of the forward passes, Y[T, out] = X[T, in] W[out, in]ᵀ, at
// Llama-3-8B's shapes, measured in the same run. The bf16 figure includes converting X to bf16
// (W is taken as already bf16, as checkpoints store it).
//   ./build/release/loaq_bench_bf16
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <map>
#include <random>

#include "core/bf16_gemm.h"
#include "core/blas.h"

namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

void record(benchmark::State& st, double flops) {
  st.counters["GFLOP/s"] =
      benchmark::Counter(flops * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// Args: tokens, in, out.
void BM_Sgemm(benchmark::State& st) {
  const int64_t T = st.range(0), k = st.range(1), n = st.range(2);
  const auto x = randn(size_t(T * k), 1), w = randn(size_t(n * k), 2);
  std::vector<float> y(size_t(T * n));
  for (auto _ : st) {
    loaq::linear(x.data(), T, k, w.data(), n, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  record(st, 2.0 * double(T) * double(k) * double(n));
}

void BM_Bf16(benchmark::State& st) {
  const int64_t T = st.range(0), k = st.range(1), n = st.range(2);
  const auto x = randn(size_t(T * k), 1), w = randn(size_t(n * k), 2);
  std::vector<uint16_t> wb(w.size());
  loaq::to_bf16(w.data(), int64_t(w.size()), wb.data());
  std::vector<float> y(size_t(T * n));
  for (auto _ : st) {
    loaq::linear_bf16(x.data(), T, k, wb.data(), n, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  record(st, 2.0 * double(T) * double(k) * double(n));
}

#define SHAPES(b)                     \
  BENCHMARK(b)                        \
      ->Args({2048, 4096, 4096})      \
      ->Args({2048, 4096, 14336})     \
      ->Args({2048, 14336, 4096})     \
      ->Unit(benchmark::kMillisecond) \
      ->UseRealTime()                 \
      ->MinTime(1.0)
SHAPES(BM_Sgemm);
SHAPES(BM_Bf16);

// Prints bf16 / sgemm per shape and each against the sgemm peak of the run.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) rates_[r.benchmark_name()] = r.counters.at("GFLOP/s").value;
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    double peak = 0;
    for (const auto& [name, rate] : rates_)
      if (name.rfind("BM_Sgemm", 0) == 0) peak = std::max(peak, rate);
    fmt::print("\nbf16 backend: {}; sgemm peak of this run: {:.1f} GFLOP/s\n",
               loaq::bf16_gemm_backend(), peak);
    for (const auto& [name, rate] : rates_) {
      if (name.rfind("BM_Bf16", 0) != 0) continue;
      const std::string shape = name.substr(std::string("BM_Bf16").size());
      const double s = rates_["BM_Sgemm" + shape];
      fmt::print("{:<40} bf16 {:7.1f} GFLOP/s, sgemm {:7.1f}: bf16 / sgemm = {:.2f}x\n", shape,
                 rate, s, rate / s);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
