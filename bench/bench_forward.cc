// bench_forward: how close one decoder layer's forward pass comes to this CPU's sgemm peak.
//
// Measures, in one run:
//  1. loaq::gemm / loaq::linear (OpenBLAS sgemm, fp32) on large shapes, in GFLOP/s (2·m·n·k); the
//     best of them is taken as the machine's sgemm peak.
//  2. loaq::decoder_layer on 2048 tokens (1×2048 and 8×256) of a ~1B-parameter layer (hidden 2048,
//     intermediate 8192, 16 heads of 128, 16 or 4 KV heads) with random weights, in GFLOP/s: the
//     linears' FLOPs plus the useful causal half of attention (QKᵀ and PV).
//  3. A summary line per forward case as a percentage of the peak, then a per-part time breakdown
//     of the layer (the calls decoder_layer makes, timed one by one; --no_breakdown skips it).
// Each phase also reports how much CPU other processes took meanwhile: on a shared machine the
// rates are only meaningful when that is ~0%.
//
// Run:  cmake --build <build-dir> --target loaq_bench && <build-dir>/loaq_bench
// The usual --benchmark_* flags apply (e.g. --benchmark_filter=forward). Threads are OpenMP's
// (OMP_NUM_THREADS), shared by OpenBLAS and the layer's own loops. About 40 s on 2 idle cores.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/blas.h"
#include "core/tensor.h"
#include "io/model_config.h"
#include "model/attention.h"
#include "model/decoder_layer.h"
#include "model/ops.h"
#include "model/rope.h"
#include "model/weights.h"

namespace {

using loaq::Tensor;

// Uniform values in [-a, a] from a fixed seed.
Tensor random_tensor(std::vector<int64_t> shape, float a, uint32_t seed) {
  Tensor t(std::move(shape));
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-a, a);
  for (float& x : t.data) x = dist(gen);
  return t;
}

// ---------------------------------------------------------------------------------------------
// 1. sgemm peak

// Args: m, n, k, trans_b (0: loaq::gemm NN, 1: loaq::linear, i.e. NT with W [n, k]).
void BM_sgemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const bool trans_b = state.range(3) != 0;
  const Tensor a = random_tensor({m, k}, 1.0f, 1);
  const Tensor b = trans_b ? random_tensor({n, k}, 1.0f, 2) : random_tensor({k, n}, 1.0f, 2);
  Tensor c({m, n});
  for (auto _ : state) {
    loaq::gemm(false, trans_b, m, n, k, 1.0f, a.ptr(), k, b.ptr(), trans_b ? k : n, 0.0f, c.ptr(),
               n);
    benchmark::DoNotOptimize(c.ptr());
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k),
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_sgemm)
    ->ArgNames({"m", "n", "k", "tB"})
    ->Args({1024, 1024, 1024, 0})
    ->Args({2048, 2048, 2048, 0})
    ->Args({4096, 4096, 4096, 0})
    ->Args({2048, 2048, 8192, 0})
    ->Args({2048, 2048, 2048, 1})  // q/o_proj shape as loaq::linear
    ->Args({2048, 8192, 2048, 1})  // gate/up_proj
    ->Args({2048, 2048, 8192, 1})  // down_proj
    ->UseRealTime()
    ->MinWarmUpTime(0.2)
    ->MinTime(0.5)
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// 2. decoder layer forward

constexpr int64_t kHidden = 2048, kInter = 8192, kHeads = 16, kHeadDim = 128;

loaq::ModelConfig layer_config(int64_t n_kv_heads) {
  loaq::ModelConfig c;
  c.arch = loaq::Arch::kLlama;
  c.architecture = "LlamaForCausalLM";
  c.hidden_size = kHidden;
  c.intermediate_size = kInter;
  c.num_layers = 1;
  c.num_heads = kHeads;
  c.num_kv_heads = n_kv_heads;
  c.head_dim = kHeadDim;
  c.vocab_size = 32000;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 500000.0;
  return c;
}

// Linear weights [out, in], uniform in ±√(3/in) (variance 1/in), so activations keep their scale.
loaq::Linear random_linear(int64_t out, int64_t in, uint32_t seed) {
  return {random_tensor({out, in}, std::sqrt(3.0f / float(in)), seed), Tensor(), nullptr};
}

// One layer's weights per KV-head count, built once (seeded) and shared by the benchmark runs.
const loaq::LayerWeights& layer_weights(const loaq::ModelConfig& c) {
  static std::map<int64_t, std::unique_ptr<loaq::LayerWeights>> cache;
  auto& w = cache[c.num_kv_heads];
  if (!w) {
    w = std::make_unique<loaq::LayerWeights>();
    const int64_t h = c.hidden_size, i = c.intermediate_size;
    w->input_norm = Tensor({h});
    w->post_attn_norm = Tensor({h});
    std::fill(w->input_norm.data.begin(), w->input_norm.data.end(), 1.0f);
    std::fill(w->post_attn_norm.data.begin(), w->post_attn_norm.data.end(), 1.0f);
    w->q = random_linear(c.q_dim(), h, 11);
    w->k = random_linear(c.kv_dim(), h, 12);
    w->v = random_linear(c.kv_dim(), h, 13);
    w->o = random_linear(h, c.q_dim(), 14);
    w->gate = random_linear(i, h, 15);
    w->up = random_linear(i, h, 16);
    w->down = random_linear(h, i, 17);
  }
  return *w;
}

double linear_flops(const loaq::ModelConfig& c, int64_t tokens) {
  const double h = double(c.hidden_size), i = double(c.intermediate_size);
  return 2.0 * double(tokens) *
         (h * double(c.q_dim() + 2 * c.kv_dim()) + double(c.q_dim()) * h + 3.0 * h * i);
}

// The useful causal half: per sequence and head, seq·(seq+1)/2 (query, key) pairs, each a
// head_dim-long dot product for QKᵀ and another for PV, 2 FLOPs per multiply-add.
double attention_flops(const loaq::ModelConfig& c, loaq::BatchShape s) {
  const double pairs = double(s.seq) * double(s.seq + 1) / 2.0;
  return double(s.batch) * double(c.num_heads) * pairs * double(c.head_dim) * 2.0 * 2.0;
}

// Args: batch, seq, n_kv_heads.
void BM_forward(benchmark::State& state) {
  const loaq::BatchShape s{state.range(0), state.range(1)};
  const loaq::ModelConfig c = layer_config(state.range(2));
  const loaq::LayerWeights& w = layer_weights(c);
  const loaq::RopeTable rope = loaq::make_rope_table(c, s.seq);
  const Tensor input = random_tensor({s.batch * s.seq, c.hidden_size}, 1.0f, 7);
  Tensor hidden = input;
  for (auto _ : state) {
    state.PauseTiming();  // every iteration starts from the same hidden states
    std::copy(input.data.begin(), input.data.end(), hidden.data.begin());
    state.ResumeTiming();
    loaq::decoder_layer(c, w, rope, s, hidden);
    benchmark::DoNotOptimize(hidden.ptr());
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(linear_flops(c, s.batch * s.seq) + attention_flops(c, s),
                         benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_forward)
    ->ArgNames({"B", "T", "kv"})
    ->Args({1, 2048, 16})
    ->Args({8, 256, 16})
    ->Args({1, 2048, 4})
    ->Args({8, 256, 4})
    ->UseRealTime()
    ->MinTime(2.0)
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// 3. summary and breakdown

// The console reporter, also keeping each run's (finalized) FLOP/s by benchmark name.
class RateReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> rates;
  void ReportRuns(const std::vector<Run>& reports) override {
    for (const Run& r : reports) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      const auto it = r.counters.find("FLOP/s");
      if (it != r.counters.end())
        rates[r.benchmark_name()] = std::max(rates[r.benchmark_name()], it->second.value);
    }
    ConsoleReporter::ReportRuns(reports);
  }
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Whether other processes competed for the CPUs: the whole system's busy CPU time (/proc/stat)
// against this process's own (getrusage), over the same wall-clock interval.
struct CpuSample {
  Clock::time_point wall = Clock::now();
  double busy = 0, steal = 0, self = 0;  // CPU seconds
};
CpuSample cpu_sample() {
  CpuSample c;
  std::ifstream f("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  f >> cpu >> user >> nice >> sys >> idle >> iowait >> irq >> softirq >> steal;
  const double hz = double(sysconf(_SC_CLK_TCK));
  c.busy = (user + nice + sys + irq + softirq) / hz;
  c.steal = steal / hz;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  c.self = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  return c;
}
// "other processes used 3% of the 2 CPUs", with a warning when the figures above it are suspect.
void print_contention(const char* what, const CpuSample& a) {
  const CpuSample b = cpu_sample();
  const double cpus = double(sysconf(_SC_NPROCESSORS_ONLN));
  const double avail = std::chrono::duration<double>(b.wall - a.wall).count() * cpus;
  const double other = std::max(0.0, (b.busy - a.busy) - (b.self - a.self)) / avail;
  const double steal = (b.steal - a.steal) / avail;
  std::printf(
      "%s: other processes used %.0f%% of the %.0f CPUs (steal %.0f%%)%s\n", what, 100.0 * other,
      cpus, 100.0 * steal,
      other + steal > 0.05 ? " -- CONTENDED: rates are too low, rerun on an idle machine" : "");
}

// The steps of loaq::attention_block and loaq::mlp_block (decoder_layer.cc), timed one by one,
// with the same calls and the same allocations.
struct Part {
  const char* name;
  double flops;
  double sec = std::numeric_limits<double>::infinity();
  long faults = 0;  // minor page faults (fresh memory being touched), in the pass of the best time
};

long minor_faults() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

void forward_parts(const loaq::ModelConfig& c, const loaq::LayerWeights& w,
                   const loaq::RopeTable& rope, loaq::BatchShape s, Tensor& hidden,
                   std::vector<Part>& parts) {
  const int64_t rows = s.batch * s.seq;
  size_t p = 0;
  Clock::time_point t0;
  long f0 = 0;
  const auto start = [&] {
    f0 = minor_faults();
    t0 = Clock::now();
  };
  const auto stop = [&] {
    const double sec = seconds_since(t0);
    if (sec < parts[p].sec) parts[p].sec = sec, parts[p].faults = minor_faults() - f0;
    ++p;
  };
  // Attention block.
  start();
  const Tensor x = loaq::rms_norm(hidden, w.input_norm, c.rms_norm_eps);
  stop();
  start();
  Tensor q = loaq::apply_linear(w.q, x);
  stop();
  start();
  Tensor k = loaq::apply_linear(w.k, x);
  stop();
  start();
  const Tensor v = loaq::apply_linear(w.v, x);
  stop();
  start();
#pragma omp parallel for schedule(static) if (rows > 64)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t pos = r % s.seq;
    loaq::apply_rope(rope, pos, q.row(r), c.num_heads);
    loaq::apply_rope(rope, pos, k.row(r), c.num_kv_heads);
  }
  stop();
  start();
  Tensor a({rows, c.q_dim()});
  loaq::causal_attention({s.batch, s.seq, c.num_heads, c.num_kv_heads, c.head_dim}, q.ptr(),
                         k.ptr(), v.ptr(), a.ptr());
  stop();
  start();
  const Tensor o = loaq::apply_linear(w.o, a);
  stop();
  start();
  for (int64_t i = 0; i < hidden.numel(); ++i) hidden.data[size_t(i)] += o.data[size_t(i)];
  stop();
  // MLP block.
  start();
  const Tensor x2 = loaq::rms_norm(hidden, w.post_attn_norm, c.rms_norm_eps);
  stop();
  start();
  Tensor g = loaq::apply_linear(w.gate, x2);
  stop();
  start();
  const Tensor u = loaq::apply_linear(w.up, x2);
  stop();
  start();
  loaq::silu_mul(g.ptr(), u.ptr(), g.numel());
  stop();
  start();
  const Tensor d = loaq::apply_linear(w.down, g);
  stop();
  start();
  for (int64_t i = 0; i < hidden.numel(); ++i) hidden.data[size_t(i)] += d.data[size_t(i)];
  stop();
}

// loaq::causal_attention's loop (attention.cc: one (sequence, head) task per OpenMP thread, row
// blocks of 256 queries, QKᵀ through BLAS, softmax of the causal prefix and zero fill, PV through
// BLAS), re-timed step by step. Returns thread-seconds per step and the FLOPs the GEMMs compute.
struct AttentionSteps {
  double qk = 0, softmax = 0, pv = 0, wall = 0, gemm_flops = 0;
};
AttentionSteps attention_steps(const loaq::ModelConfig& c, loaq::BatchShape s) {
  const int64_t T = s.seq, hd = c.head_dim, qs = c.q_dim(), ks = c.kv_dim();
  const int64_t rep = c.num_heads / c.num_kv_heads, tasks = s.batch * c.num_heads;
  const Tensor q = random_tensor({s.batch * T, qs}, 1.0f, 21);
  const Tensor k = random_tensor({s.batch * T, ks}, 1.0f, 22);
  const Tensor v = random_tensor({s.batch * T, ks}, 1.0f, 23);
  Tensor out({s.batch * T, qs});
  const float scale = float(1.0 / std::sqrt(double(hd)));
  constexpr int64_t kBlock = 256;
  double qk = 0, softmax = 0, pv = 0, gemm_flops = 0;
  const auto t_all = Clock::now();
#pragma omp parallel reduction(+ : qk, softmax, pv, gemm_flops)
  {
    std::vector<float> scores(size_t(std::min(kBlock, T) * T));
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t b = task / c.num_heads, h = task % c.num_heads, g = h / rep;
      const float* qh = q.ptr() + b * T * qs + h * hd;
      const float* kh = k.ptr() + b * T * ks + g * hd;
      const float* vh = v.ptr() + b * T * ks + g * hd;
      float* oh = out.ptr() + b * T * qs + h * hd;
      for (int64_t r0 = 0; r0 < T; r0 += kBlock) {
        const int64_t r1 = std::min(T, r0 + kBlock), nr = r1 - r0;
        auto t0 = Clock::now();
        loaq::gemm(false, true, nr, r1, hd, scale, qh + r0 * qs, qs, kh, ks, 0.0f, scores.data(),
                   r1);
        qk += seconds_since(t0);
        t0 = Clock::now();
        for (int64_t i = 0; i < nr; ++i) {
          float* row = scores.data() + i * r1;
          const int64_t len = r0 + i + 1;
          loaq::softmax_prefix(row, len);
          std::fill(row + len, row + r1, 0.0f);
        }
        softmax += seconds_since(t0);
        t0 = Clock::now();
        loaq::gemm(false, false, nr, hd, r1, 1.0f, scores.data(), r1, vh, ks, 0.0f, oh + r0 * qs,
                   qs);
        pv += seconds_since(t0);
        gemm_flops += 2.0 * 2.0 * double(nr * r1 * hd);
      }
    }
  }
  const double wall = seconds_since(t_all);
  benchmark::DoNotOptimize(out.ptr());
  return {qk, softmax, pv, wall, gemm_flops};
}

// Time of allocating (and zero-filling) a fresh [rows, cols] Tensor, as apply_linear does.
double alloc_seconds(int64_t rows, int64_t cols) {
  double best = std::numeric_limits<double>::infinity();
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
    Tensor t({rows, cols});
    benchmark::DoNotOptimize(t.ptr());
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

void print_breakdown(const char* label, loaq::BatchShape s, int64_t n_kv, double peak) {
  const CpuSample cpu0 = cpu_sample();
  const loaq::ModelConfig c = layer_config(n_kv);
  const loaq::LayerWeights& w = layer_weights(c);
  const loaq::RopeTable rope = loaq::make_rope_table(c, s.seq);
  const Tensor input = random_tensor({s.batch * s.seq, c.hidden_size}, 1.0f, 7);
  const int64_t t = s.batch * s.seq, h = c.hidden_size, in = c.intermediate_size;
  const auto lin = [&](int64_t out, int64_t inp) { return 2.0 * double(t * out * inp); };
  std::vector<Part> parts = {
      {"input rms_norm", 0},
      {"q_proj", lin(c.q_dim(), h)},
      {"k_proj", lin(c.kv_dim(), h)},
      {"v_proj", lin(c.kv_dim(), h)},
      {"rope", 0},
      {"attention", attention_flops(c, s)},
      {"o_proj", lin(h, c.q_dim())},
      {"residual add 1", 0},
      {"post rms_norm", 0},
      {"gate_proj", lin(in, h)},
      {"up_proj", lin(in, h)},
      {"silu_mul", 0},
      {"down_proj", lin(h, in)},
      {"residual add 2", 0},
  };
  Tensor hidden = input;
  double whole = std::numeric_limits<double>::infinity();
  for (int rep = 0; rep < 2; ++rep) {  // best of 2 per part
    std::copy(input.data.begin(), input.data.end(), hidden.data.begin());
    const auto t0 = Clock::now();
    forward_parts(c, w, rope, s, hidden, parts);
    whole = std::min(whole, seconds_since(t0));
  }
  double sum = 0, flops = 0;
  for (const Part& p : parts) sum += p.sec, flops += p.flops;
  std::printf("\nbreakdown %s (best of 2 per part; sum of parts %.1f ms, %.1f GFLOP/s):\n", label,
              sum * 1e3, flops / sum * 1e-9);
  // "lost": the part's time beyond what its FLOPs would take at the sgemm peak; the column sums to
  // the whole gap between the layer and the peak.
  std::printf("  %-16s %9s %6s %10s %7s %9s %8s\n", "part", "ms", "%time", "GFLOP/s", "%peak",
              "lost ms", "minflt");
  double lost_total = 0;
  for (const Part& p : parts) {
    const double lost = peak > 0 ? p.sec - p.flops / peak : 0.0;
    lost_total += lost;
    std::printf("  %-16s %9.2f %5.1f%%", p.name, p.sec * 1e3, 100.0 * p.sec / sum);
    if (p.flops > 0)
      std::printf(" %10.1f %6.1f%%", p.flops / p.sec * 1e-9,
                  peak > 0 ? 100.0 * p.flops / p.sec / peak : 0.0);
    else
      std::printf(" %10s %7s", "", "");
    std::printf(" %9.2f %8ld\n", lost * 1e3, p.faults);
  }
  if (peak > 0)
    std::printf("  sum of parts = %.1f%% of peak; lost %.1f ms of %.1f ms\n",
                100.0 * flops / sum / peak, lost_total * 1e3, sum * 1e3);
  const double a_qkv = alloc_seconds(t, c.q_dim()), a_kv = alloc_seconds(t, c.kv_dim());
  const double a_h = alloc_seconds(t, h), a_i = alloc_seconds(t, in);
  std::printf(
      "  of which fresh output Tensor (malloc + zero-fill) in the projections: q %.2f, k/v %.2f "
      "each, o/down %.2f each, gate/up %.2f each, attention out %.2f ms\n",
      a_qkv * 1e3, a_kv * 1e3, a_h * 1e3, a_i * 1e3, a_qkv * 1e3);
  std::printf("  (whole timed pass %.1f ms)\n", whole * 1e3);
  AttentionSteps at = attention_steps(c, s);
  if (const AttentionSteps again = attention_steps(c, s); again.wall < at.wall) at = again;
  const double thr = at.qk + at.softmax + at.pv, useful = attention_flops(c, s);
  std::printf(
      "  attention re-timed (%.1f ms wall): QKt gemm %.0f%%, softmax_prefix+zero fill %.0f%%, "
      "PV gemm %.0f%% of thread time; the GEMMs compute %.2fx the useful causal FLOPs and run at "
      "%.1f GFLOP/s per thread (%.1f%% of the per-thread peak)\n",
      at.wall * 1e3, 100.0 * at.qk / thr, 100.0 * at.softmax / thr, 100.0 * at.pv / thr,
      at.gemm_flops / useful, at.gemm_flops / (at.qk + at.pv) * 1e-9,
      peak > 0
          ? 100.0 * at.gemm_flops / (at.qk + at.pv) / (peak / double(sysconf(_SC_NPROCESSORS_ONLN)))
          : 0.0);
  print_contention("  during this breakdown", cpu0);
}

}  // namespace

int main(int argc, char** argv) {
  bool breakdown = true;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no_breakdown") == 0)
      breakdown = false;
    else
      args.push_back(argv[i]);
  }
  int n_args = int(args.size());
  benchmark::Initialize(&n_args, args.data());
  if (benchmark::ReportUnrecognizedArguments(n_args, args.data())) return 1;
  benchmark::AddCustomContext(
      "openblas", std::string(openblas_get_config()) + " core " + openblas_get_corename() + ", " +
                      std::to_string(openblas_get_num_threads()) + " threads");
  RateReporter reporter;
  const CpuSample cpu0 = cpu_sample();
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  double peak = 0;
  std::string peak_name;
  for (const auto& [name, rate] : reporter.rates) {
    if (name.starts_with("BM_sgemm") && rate > peak) peak = rate, peak_name = name;
  }
  std::printf("\n");
  if (peak > 0)
    std::printf("sgemm peak: %.1f GFLOP/s (%s)\n", peak * 1e-9, peak_name.c_str());
  else
    std::printf("sgemm peak: not measured (no BM_sgemm run selected)\n");
  struct Case {
    const char* label;
    loaq::BatchShape s;
    int64_t kv;
  };
  const Case cases[] = {{"B1xT2048 MHA (16 kv heads)", {1, 2048}, 16},
                        {"B8xT256 MHA (16 kv heads)", {8, 256}, 16},
                        {"B1xT2048 GQA (4 kv heads)", {1, 2048}, 4},
                        {"B8xT256 GQA (4 kv heads)", {8, 256}, 4}};
  std::vector<const Case*> ran;
  for (const Case& cs : cases) {
    const std::string prefix = "BM_forward/B:" + std::to_string(cs.s.batch) +
                               "/T:" + std::to_string(cs.s.seq) + "/kv:" + std::to_string(cs.kv) +
                               "/";
    const auto it = reporter.rates.lower_bound(prefix);
    if (it == reporter.rates.end() || !it->first.starts_with(prefix)) continue;
    ran.push_back(&cs);
    if (peak > 0)
      std::printf("forward %s: %.1f GFLOP/s = %.1f%% of sgemm peak %.1f GFLOP/s\n", cs.label,
                  it->second * 1e-9, 100.0 * it->second / peak, peak * 1e-9);
    else
      std::printf("forward %s: %.1f GFLOP/s\n", cs.label, it->second * 1e-9);
  }
  print_contention("during the benchmarks", cpu0);
  if (breakdown)
    for (const Case* cs : ran) print_breakdown(cs->label, cs->s, cs->kv, peak);
  return 0;
}
