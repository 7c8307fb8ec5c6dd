// Perplexity against shared/golden/ppl.json (GPTQ protocol, float64 reference): every key, with and
// without BOS, to 1e-4 relative; token counts and window counts exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "eval/perplexity.h"
#include "io/json_file.h"
#include "test_assets.h"
#include "text/datasets.h"
#include "text/tokenizer.h"

namespace loaq {
namespace {

std::vector<std::string> golden_keys() {
  const auto p = test::asset("golden/ppl.json");
  if (!p) return {"missing"};
  std::vector<std::string> keys;
  const auto j = read_json_file(*p);
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return keys;
}

// Models and tokenized datasets are shared by the keys that use them.
const Model& cached_model(const std::string& dir) {
  static std::map<std::string, Model> cache;
  auto it = cache.find(dir);
  if (it == cache.end()) it = cache.emplace(dir, load_model(dir)).first;
  return it->second;
}

const std::vector<int32_t>& cached_ids(const std::string& model_dir, const std::string& dataset) {
  static std::map<std::string, std::vector<int32_t>> cache;
  const std::string key = model_dir + "|" + dataset;
  auto it = cache.find(key);
  if (it == cache.end()) {
    const auto tok = load_tokenizer(model_dir);
    const auto d = load_eval_dataset(dataset, *test::assets_dir() + "/data");
    it = cache.emplace(key, tok->encode(d.text)).first;  // without BOS; added per key below
  }
  return it->second;
}

class GoldenPpl : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenPpl, MatchesReference) {
  LOAQ_REQUIRE_ASSET(ppl_json, "golden/ppl.json");
  const auto g = read_json_file(ppl_json).at(GetParam());
  const auto model_name = g.at("model").get<std::string>();
  const auto dataset = g.at("dataset").get<std::string>();
  LOAQ_REQUIRE_ASSET(model_dir, "models/" + model_name);
  const bool bos = g.at("bos").get<bool>();
  const int64_t seqlen = g.at("seqlen").get<int64_t>();

  const auto tok = load_tokenizer(model_dir);
  ASSERT_TRUE(tok->add_bos);  // every golden model's tokenizer_config adds BOS
  std::vector<int32_t> ids;
  if (bos) ids.push_back(*tok->bos_id);
  const auto& body = cached_ids(model_dir, dataset);
  ids.insert(ids.end(), body.begin(), body.end());
  EXPECT_EQ(int64_t(ids.size()), g.at("n_tokens_encoded").get<int64_t>());
  if (dataset == "c4") ids.resize(size_t(256 * seqlen));  // GPTQ's C4 cap
  EXPECT_EQ(int64_t(ids.size()), g.at("tokens_after_cap").get<int64_t>());

  PplOptions o;
  o.seqlen = seqlen;
  o.progress = false;
  const PplResult r = perplexity(cached_model(model_dir), ids, o);
  EXPECT_EQ(r.n_windows, g.at("n_windows").get<int64_t>());
  EXPECT_EQ(r.predicted_tokens, g.at("predicted_tokens").get<int64_t>());
  const double want = g.at("ppl_full_precision").get<double>();
  const double rel = std::abs(r.ppl - want) / want;
  EXPECT_LE(rel, 1e-4) << GetParam() << ": got " << r.ppl << " want " << want;
  std::printf("[golden ppl] %-42s %.6f (ref %.6f, rel err %.2e, %.1f s)\n", GetParam().c_str(), r.ppl,
              want, rel, r.seconds);
}

INSTANTIATE_TEST_SUITE_P(AllKeys, GoldenPpl, ::testing::ValuesIn(golden_keys()), [](const auto& info) {
  std::string s = info.param;
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
});

}  // namespace
}  // namespace loaq
