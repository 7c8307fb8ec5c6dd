// GGUF block types as solver grids: RTN and GPTQ on the frozen block grid give codes in range whose
// llama.cpp bytes (gguf_pack_codes) dequantize, as ggml does, to the solver's own dequantized
// weight; GPTQ's error feedback lowers the output error tr(ΔW H ΔWᵀ) below RTN's on the same grid.
// The imatrix fit (weighted by diag(H) / tokens) lowers the diag(H)-weighted error of RTN below the
// unweighted fit's, and reproduces a weight that lies on the grid exactly.
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

// diag(H) / tokens: each input's mean square, the scale llama-imatrix records.
TEST(GgufGrid, ImatrixWeightsAreMeanSquares) {
  MatD h(3, 3);
  h(0, 0) = 6.0, h(1, 1) = 0.0, h(2, 2) = 1.5, h(0, 2) = h(2, 0) = 9.0;
  EXPECT_EQ(gguf_imatrix_weights(h, 3), (std::vector<double>{2.0, 0.0, 0.5}));
  EXPECT_THROW(gguf_imatrix_weights(h, 0), Error);
  EXPECT_EQ(gguf_fit_name(parse_gguf_fit("imatrix")), "imatrix");
  EXPECT_EQ(parse_gguf_fit("unweighted"), GgufFit::kUnweighted);
  EXPECT_THROW(parse_gguf_fit("weighted"), Error);
  // The imatrix fit needs the weights.
  const auto p = make_problem(2, 256, 1);
  EXPECT_THROW(rtn_quantize(p.w, gguf_grid(GgmlType::Q4_K, GgufFit::kImatrix)), Error);
}

double weighted_error(const Tensor& w, const Tensor& q, const std::vector<double>& d) {
  double e = 0;
  for (size_t i = 0; i < w.data.size(); ++i)
    e += d[i % d.size()] * std::pow(double(q.data[i]) - w.data[i], 2);
  return e;
}

// The imatrix fit of the solver grid: RTN on it has a lower diag(H)-weighted error than on the
// unweighted fit; its codes with the frozen headers are (up to rounding ties) llama.cpp's own
// weighted quantization (gguf_quantize with the same imatrix); every block is fitted once for all
// of its groups, as fit_gguf_group fits one group.
TEST(GgufGrid, ImatrixFitWeightsTheBlocks) {
  const auto p = make_problem(16, 512, 5);
  const std::vector<double> d = gguf_imatrix_weights(p.h, 2 * 512);  // make_problem's T
  std::vector<float> qw(d.begin(), d.end());
  for (GgmlType t : gguf_block_types()) {
    SCOPED_TRACE(ggml_type_info(t).name);
    const GridConfig wg = gguf_grid(t, GgufFit::kImatrix), ug = gguf_grid(t);
    EXPECT_NE(wg.describe(), ug.describe());
    const QuantizedLinear rw = rtn_quantize(p.w, wg, d.data()), ru = rtn_quantize(p.w, ug);
    if (t == GgmlType::Q8_0) {  // llama.cpp ignores the imatrix for Q8_0
      EXPECT_EQ(rw.q.data, ru.q.data);
      continue;
    }
    EXPECT_LT(weighted_error(p.w, rw.q, d), weighted_error(p.w, ru.q, d));
    const auto bytes = gguf_pack_codes(t, p.w, rw.codes, d.data());
    std::vector<float> y(p.w.data.size()), yl(p.w.data.size());
    gguf_dequantize(t, bytes, y.data(), int64_t(y.size()));
    const auto llama = gguf_quantize(t, p.w.data.data(), p.w.rows(), p.w.cols(), qw.data());
    gguf_dequantize(t, llama, yl.data(), int64_t(yl.size()));
    int64_t differ = 0;
    double max_diff = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      differ += y[i] != yl[i];
      max_diff = std::max(max_diff, std::fabs(double(y[i]) - rw.q.data[i]));
    }
    EXPECT_LT(differ, int64_t(y.size() / 100));
    EXPECT_LT(max_diff, 1e-7);
    // One group at a time, the same grid.
    std::vector<float> s(size_t(p.w.rows())), z(s.size());
    for (int64_t g = 0; g < rw.scale.cols(); g += 7) {
      fit_gguf_group(wg, p.w, g * wg.group, (g + 1) * wg.group, s.data(), z.data(), d.data());
      for (int64_t r = 0; r < p.w.rows(); ++r) {
        ASSERT_EQ(s[size_t(r)], rw.scale.data[size_t(r * rw.scale.cols() + g)]);
        ASSERT_EQ(z[size_t(r)], rw.zero.data[size_t(r * rw.zero.cols() + g)]);
      }
    }
  }
}

// A row that lies exactly on a type's grid (fp16 d and dmin; sub-block scale codes, the largest
// code in the first sub-block; every sub-block holding its lowest and highest element code) is
// reproduced exactly by the weighted fit, whatever the (positive) weights: the expected value in
// closed form. (Sub-blocks of equal scales would make Q3_K's symmetric scale search a tie that
// float rounding breaks.)
TEST(GgufGrid, ImatrixFitExactOnTheGrid) {
  const int64_t N = 512;
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0.1, 10.0);
  std::vector<double> d(static_cast<size_t>(N));
  for (auto& v : d) v = u(rng);
  const std::vector<float> qw(d.begin(), d.end());
  const float d0 = 0.015625f, m0 = 0.0078125f;  // fp16 values
  for (GgmlType t : gguf_block_types()) {
    if (t == GgmlType::Q8_0) continue;
    SCOPED_TRACE(ggml_type_info(t).name);
    const auto* f = gguf_block_format(t);
    // The largest sub-block scale code (the 32-element types: d itself, code 1).
    const int top = f->block == 32        ? 1
                    : t == GgmlType::Q2_K ? 15
                    : t == GgmlType::Q3_K ? 32
                    : t == GgmlType::Q6_K ? 128
                                          : 63;
    const float z = gguf_int_zero(t);
    Tensor w({1, N});
    for (int64_t i = 0; i < N; ++i) {
      const int64_t j = i % f->block / f->group, k = i % f->group;
      const float s = d0 * float(top == 1 ? 1 : top - j % 7);
      const float m = f->has_min ? m0 * float(top == 1 ? 1 : top - j % 5) : 0.0f;
      const int q = k == 0 ? f->qmin : k == 1 ? f->qmax : int((i * 7) % (f->qmax + 1));
      w.data[size_t(i)] = s * (float(q) - z) - m;
    }
    const auto bytes = gguf_quantize(t, w.data.data(), 1, N, qw.data());
    std::vector<float> y(static_cast<size_t>(N));
    gguf_dequantize(t, bytes, y.data(), N);
    EXPECT_EQ(y, w.data);
    // RTN on the frozen grid picks the same codes: the same bytes; its dequantized weight is the
    // row up to the float rounding of a real-valued zero (s·(q − m/s) for the types with a min).
    const QuantizedLinear r = rtn_quantize(w, gguf_grid(t, GgufFit::kImatrix), d.data());
    EXPECT_EQ(gguf_pack_codes(t, w, r.codes, d.data()), bytes);
    for (int64_t i = 0; i < N; ++i)
      ASSERT_NEAR(r.q.data[size_t(i)], w.data[size_t(i)], 1e-6f * std::fabs(w.data[size_t(i)]));
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
  // With an imatrix fit, the mixture is llama-quantize's with an imatrix: ffn_down of the first
  // eighth of the layers in Q4_0 becomes Q4_1 (8 layers: layer 0).
  const auto fitted = [&](const std::string& lin, GgufFit fit) {
    return gguf_grid_for_linear("Q4_0", lin, c, fit);
  };
  EXPECT_EQ(fitted("model.layers.0.mlp.down_proj", GgufFit::kImatrix).gguf, GgmlType::Q4_1);
  EXPECT_EQ(fitted("model.layers.1.mlp.down_proj", GgufFit::kImatrix).gguf, GgmlType::Q4_0);
  EXPECT_EQ(fitted("model.layers.0.mlp.down_proj", GgufFit::kUnweighted).gguf, GgmlType::Q4_0);
  EXPECT_EQ(fitted("model.layers.0.mlp.up_proj", GgufFit::kImatrix).gguf_fit, GgufFit::kImatrix);
}

}  // namespace
}  // namespace loaq
