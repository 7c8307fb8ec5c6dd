// The forward pass against shared/golden/logits: float64 reference logits and per-layer hidden
// states of every model in shared/models. Bound: max |Δ| / max |ref| ≤ 1e-4 (issue 2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "io/safetensors.h"
#include "model/model.h"
#include "test_assets.h"

namespace loaq {
namespace {

double rel_max_err(const float* got, const Tensor& ref) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    num = std::max(num, std::abs(double(got[i]) - double(ref.data[size_t(i)])));
    den = std::max(den, std::abs(double(ref.data[size_t(i)])));
  }
  return num / den;
}

class GoldenLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenLogits, MatchesReference) {
  const std::string name = GetParam();
  LOAQ_REQUIRE_ASSET(model_dir, "models/" + name);
  LOAQ_REQUIRE_ASSET(golden_path, "golden/logits/" + name + ".safetensors");
  const SafetensorsFile golden(golden_path);
  const Model m = load_model(model_dir);

  const auto* ids_info = golden.find("input_ids");
  ASSERT_NE(ids_info, nullptr);
  const int64_t B = ids_info->shape[0], T = ids_info->shape[1];
  const Tensor ids_f = golden.read_f32(*ids_info);
  std::vector<int32_t> ids(ids_f.data.begin(), ids_f.data.end());

  // Per-layer hidden states of sequence 0.
  Tensor h = embed(m, std::span(ids).first(size_t(T)));
  EXPECT_LE(rel_max_err(h.ptr(), golden.read_f32("embed_out")), 1e-6);
  const RopeTable rope = make_rope_table(m.config, T);
  for (int64_t l = 0; l < m.config.num_layers; ++l) {
    decoder_layer(m.config, m.weights.layers[size_t(l)], rope, {1, T}, h);
    const double e = rel_max_err(h.ptr(), golden.read_f32("layer_" + std::to_string(l) + "_out"));
    EXPECT_LE(e, 1e-4) << name << " layer " << l;
    RecordProperty("layer_" + std::to_string(l) + "_rel_err", std::to_string(e));
  }

  // Logits of the whole batch.
  const Tensor logits = forward(m, ids, {B, T});
  const Tensor ref = golden.read_f32("logits");
  ASSERT_EQ(logits.numel(), ref.numel());
  const double e = rel_max_err(logits.ptr(), ref);
  EXPECT_LE(e, 1e-4) << name;
  RecordProperty("logits_rel_err", std::to_string(e));
  std::printf("[golden logits] %-14s max|dlogit|/max|logit| = %.3g\n", name.c_str(), e);
}

INSTANTIATE_TEST_SUITE_P(AllModels, GoldenLogits,
                         ::testing::Values("stories260K", "llama-mini-7m", "qwen3-tiny", "qwen2-tiny",
                                           "llama3-tiny"),
                         [](const auto& info) {
                           std::string s = info.param;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

}  // namespace
}  // namespace loaq
