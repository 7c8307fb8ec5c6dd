// GGUF block types as solver grids: RTN and GPTQ on the frozen block grid give codes in range whose
// llama.cpp bytes (gguf_pack_codes) dequantize, as ggml does, to the solver's own dequantized
// weight; GPTQ's error feedback lowers the output error tr(ΔW H ΔWᵀ) below RTN's on the same grid.
#include "quant/gguf_grid.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "quant/gguf_block.h"
#include "quant/solver.h"

namespace loaq {
namespace {

struct Problem {
  Tensor w;
  MatD h;
};

Problem make_problem(int64_t M, int64_t N, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  Problem p{Tensor({M, N}), MatD(N, N)};
  for (auto& v : p.w.data) v = 0.02f * g(rng);
  // H = XᵀX of correlated inputs.
  const int64_t T = 2 * N;
  std::vector<double> x(size_t(T * N));
  for (int64_t t = 0; t < T; ++t) {
    double prev = 0;
    for (int64_t i = 0; i < N; ++i) {
      prev = 0.7 * prev + g(rng) * (1.0 + (i % 7 == 0 ? 3.0 : 0.0));
      x[size_t(t * N + i)] = prev;
    }
  }
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t t = 0; t < T; ++t) s += x[size_t(t * N + i)] * x[size_t(t * N + j)];
      p.h(i, j) = s;
    }
  return p;
}

double output_error(const Tensor& w, const Tensor& q, const MatD& h) {
  const int64_t M = w.rows(), N = w.cols();
  double e = 0;
  for (int64_t r = 0; r < M; ++r)
    for (int64_t i = 0; i < N; ++i) {
      const double di = double(q.data[size_t(r * N + i)]) - w.data[size_t(r * N + i)];
      for (int64_t j = 0; j < N; ++j)
        e += di * h(i, j) * (double(q.data[size_t(r * N + j)]) - w.data[size_t(r * N + j)]);
    }
  return e;
}

TEST(GgufGrid, SolversTargetTheBlockGrid) {
  const auto p = make_problem(8, 256, 3);
  for (GgmlType t : gguf_block_types()) {
    SCOPED_TRACE(ggml_type_info(t).name);
    const GridConfig grid = gguf_grid(t);
    const auto* f = gguf_block_format(t);
    SolverConfig sc;
    const QuantizedLinear rtn = rtn_quantize(p.w, grid);
    const QuantizedLinear gq = gptq_quantize(p.w, p.h, grid, sc);
    for (const QuantizedLinear* r : {&rtn, &gq}) {
      for (int32_t c : r->codes) {
        ASSERT_GE(c, f->qmin);
        ASSERT_LE(c, f->qmax);
      }
      const auto bytes = gguf_pack_codes(t, p.w, r->codes);
      std::vector<float> y(p.w.data.size());
      gguf_dequantize(t, bytes, y.data(), int64_t(y.size()));
      double max_diff = 0, max_abs = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        max_diff = std::max(max_diff, std::fabs(double(y[i]) - r->q.data[i]));
        max_abs = std::max(max_abs, std::fabs(double(y[i])));
      }
      EXPECT_LT(max_diff, 1e-6 * max_abs);  // the same values, up to float rounding
    }
    // RTN on the frozen grid is llama.cpp's own rounding, up to ties: nearly the same bytes.
    const auto ref = gguf_quantize_ref(t, p.w.data.data(), int64_t(p.w.data.size()));
    std::vector<float> yr(p.w.data.size());
    gguf_dequantize(t, ref, yr.data(), int64_t(yr.size()));
    int64_t differ = 0;
    for (size_t i = 0; i < yr.size(); ++i) differ += std::fabs(yr[i] - rtn.q.data[i]) > 1e-6f;
    EXPECT_LT(differ, int64_t(yr.size() / 100));
    EXPECT_LT(output_error(p.w, gq.q, p.h), output_error(p.w, rtn.q, p.h));
  }
}

// --grid gguf:Q4_K_M on a Llama-shaped config: each linear gets llama-quantize's choice.
TEST(GgufGrid, MixturePerLinear) {
  ModelConfig c;
  c.num_layers = 8;
  c.hidden_size = 256;
  c.intermediate_size = 768;
  c.num_heads = 8;
  c.num_kv_heads = 8;
  c.head_dim = 32;
  auto type = [&](const std::string& ft, const std::string& lin) {
    return gguf_grid_for_linear(ft, lin, c).gguf;
  };
  // use_more_bits(i, 8): layers 0, 3, 6, 7 of attn_v and ffn_down get Q6_K in Q4_K_M.
  EXPECT_EQ(type("Q4_K_M", "model.layers.0.self_attn.v_proj"), GgmlType::Q6_K);
  EXPECT_EQ(type("Q4_K_M", "model.layers.1.self_attn.v_proj"), GgmlType::Q4_K);
  EXPECT_EQ(type("Q4_K_M", "model.layers.2.mlp.down_proj"), GgmlType::Q4_K);
  EXPECT_EQ(type("Q4_K_M", "model.layers.3.mlp.down_proj"), GgmlType::Q6_K);
  EXPECT_EQ(type("Q4_K_M", "model.layers.3.self_attn.q_proj"), GgmlType::Q4_K);
  EXPECT_EQ(type("Q2_K", "model.layers.3.self_attn.o_proj"), GgmlType::Q3_K);
  EXPECT_EQ(type("Q2_K", "model.layers.3.mlp.up_proj"), GgmlType::Q2_K);
  EXPECT_EQ(type("Q3_K_M", "model.layers.0.self_attn.v_proj"), GgmlType::Q5_K);
  EXPECT_EQ(type("Q3_K_M", "model.layers.5.self_attn.v_proj"), GgmlType::Q4_K);
  EXPECT_THROW(type("Q4_K_X", "model.layers.0.self_attn.v_proj"), Error);
  EXPECT_THROW(type("Q4_K_M", "model.norm"), Error);
  c.hidden_size = 128;  // rows of 128: K-quants fall back as llama-quantize's do
  EXPECT_EQ(type("Q4_K_M", "model.layers.3.self_attn.q_proj"), GgmlType::Q5_0);
}

}  // namespace
}  // namespace loaq
