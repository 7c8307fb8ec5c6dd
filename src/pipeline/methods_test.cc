// The method table's reading of calibration data for weighted grids: RTN reads the statistics for
// a GGUF grid fitted as imatrix (and a NeUQI grid), not for the unweighted fit; the column weights
// it passes the grid are each input's mean square, diag(H) / tokens, of the linear's statistics.
#include "pipeline/methods.h"

#include <gtest/gtest.h>

#include "quant/gguf_grid.h"

namespace loaq {
namespace {

TEST(GgufMethods, WeightedGridsReadCalibration) {
  QuantizeConfig cfg;
  cfg.method = Method::kRtn;
  cfg.gguf_file_type = "Q4_K_M";
  cfg.grid = gguf_grid(GgmlType::Q4_K, GgufFit::kImatrix);
  EXPECT_TRUE(method_needs_calibration(cfg));
  cfg.grid = gguf_grid(GgmlType::Q4_K, GgufFit::kUnweighted);
  EXPECT_FALSE(method_needs_calibration(cfg));
  cfg.method = Method::kNone;
  cfg.grid = gguf_grid(GgmlType::Q4_K, GgufFit::kImatrix);
  EXPECT_FALSE(method_needs_calibration(cfg));
  cfg.method = Method::kGptq;
  EXPECT_TRUE(method_needs_calibration(cfg));
  cfg.method = Method::kRtn;
  cfg.gguf_file_type.clear();
  cfg.grid = GridConfig{};
  EXPECT_FALSE(method_needs_calibration(cfg));
  cfg.grid.fit = GridFit::kNeuqi;
  EXPECT_TRUE(method_needs_calibration(cfg));
}

TEST(GgufMethods, GridWeightsOfAnImatrixFit) {
  Stats st(2, 2, false, false);
  Tensor x({3, 2});
  x.data = {1.0f, 2.0f, -1.0f, 0.0f, 2.0f, 1.0f};  // Σx² per input: 6, 5 over 3 tokens
  st.add_chunk(x, nullptr, nullptr);
  QuantizeConfig cfg;
  const GridConfig g = gguf_grid(GgmlType::Q4_0, GgufFit::kImatrix);
  EXPECT_EQ(grid_weights(g, st, cfg), (std::vector<double>{2.0, 5.0 / 3.0}));
  EXPECT_TRUE(grid_weights(gguf_grid(GgmlType::Q4_0), st, cfg).empty());
  EXPECT_TRUE(grid_weights(g, Stats(), cfg).empty());  // no statistics: none
  // The solver grid of a linear carries the run's fit.
  ModelConfig c;
  c.num_layers = 2;
  c.hidden_size = c.intermediate_size = 256;
  c.num_heads = c.num_kv_heads = 4;
  c.head_dim = 64;
  cfg.gguf_file_type = "Q4_K_M";
  cfg.grid = gguf_grid(GgmlType::Q4_K, GgufFit::kImatrix);
  EXPECT_EQ(method_grid_for_linear(cfg, "model.layers.1.mlp.up_proj", c).gguf_fit,
            GgufFit::kImatrix);
}

}  // namespace
}  // namespace loaq
