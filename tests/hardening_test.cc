// Bad inputs that used to get through (issue 18, items 4-12), each through the real CLI on a
// broken copy of stories260K: every JSON overflow and mistyped number is an error naming the file
// and the key, a non-finite result is an error, integer weights are refused, and the commands
// agree on what a model directory needs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_run.h"
#include "io/safetensors.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;
using test::CliResult;
using test::run_loaq;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void write_all(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}

const char* const kQ = "model.layers.0.self_attn.q_proj.weight";

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto src = test::asset("models/stories260K");
    if (!src) GTEST_SKIP() << "asset 'models/stories260K' not found (set LOAQ_ASSETS)";
    const auto data = test::asset("data");
    if (!data) GTEST_SKIP() << "asset 'data' not found";
    data_ = *data;
    root_ = fs::temp_directory_path() /
            ("loaq-hardening-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    dir_ = root_ / "m";
    fs::create_directories(dir_);
    for (const char* f :
         {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json"})
      fs::copy_file(fs::path(*src) / f, dir_ / f);
  }
  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  std::string file(const std::string& f) const { return (dir_ / f).string(); }
  CliResult eval(std::vector<std::string> extra = {}, const std::string& ppl = "wikitext2") const {
    std::vector<std::string> a = {"eval", "--model",       dir_.string(), "--data",
                                  data_,  "--ppl",         ppl,           "--seqlen",
                                  "64",   "--max-windows", "1",           "-q"};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_loaq(a);
  }
  CliResult quantize(std::vector<std::string> extra = {}, const std::string& method = "rtn") const {
    std::vector<std::string> a = {"quantize", "-q",  "--model",  dir_.string(),
                                  "--data",   data_, "--method", method,
                                  "--wbits",  "4",   "--out",    (root_ / "q").string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_loaq(a);
  }
  CliResult inspect(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"inspect", dir_.string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_loaq(a);
  }
  nlohmann::ordered_json config() const {
    return nlohmann::ordered_json::parse(read_all(dir_ / "config.json"));
  }
  void set_config(const std::string& key, const std::string& raw_value) const {
    // Spliced as text: values such as 1e400 cannot be built as JSON.
    auto j = config();
    j[key] = "@@";
    std::string s = j.dump(2);
    s.replace(s.find("\"@@\""), 4, raw_value);
    write_all(dir_ / "config.json", s);
  }
  // Rewrites model.safetensors with `edit` applied to every tensor (as F32).
  void edit_weights(const std::function<void(const std::string&, Tensor&)>& edit) const {
    {
      const SafetensorsFile src(file("model.safetensors"));
      std::vector<Tensor> keep;
      keep.reserve(src.tensors().size());
      std::vector<TensorToWrite> ts;
      for (const auto& t : src.tensors()) {
        keep.push_back(src.read_f32(t));
        edit(t.name, keep.back());
        ts.push_back(f32_entry(t.name, keep.back()));
      }
      write_safetensors(file("new.safetensors"), std::move(ts));
    }
    fs::rename(file("new.safetensors"), file("model.safetensors"));
  }

  static void expect_clean_failure(const CliResult& r, std::initializer_list<std::string> parts) {
    EXPECT_TRUE(r.clean_failure()) << r.output;
    for (const auto& p : parts)
      EXPECT_TRUE(r.has(p)) << "output lacks '" << p << "':\n" << r.output;
  }

  fs::path root_, dir_;
  std::string data_;
};

// Item 4: a number beyond the double range in any JSON is an error naming the file.
TEST_F(Hardening, JsonNumberOverflowInSafetensorsHeader) {
  // The fuzzer's crasher: header length 7, header "4e400\0\x01".
  write_all(dir_ / "model.safetensors", std::string("\x07\0\0\0\0\0\0\0"
                                                    "4e400\0\x01",
                                                    15));
  expect_clean_failure(eval(), {file("model.safetensors"), "invalid JSON", "overflow"});
  expect_clean_failure(inspect(), {file("model.safetensors"), "invalid JSON"});
}

TEST_F(Hardening, JsonNumberOverflowInConfig) {
  set_config("rope_theta", "1e400");
  expect_clean_failure(eval(), {file("config.json"), "invalid JSON"});
  expect_clean_failure(quantize(), {file("config.json"), "invalid JSON"});
}

TEST_F(Hardening, JsonNumberOverflowInTokenizerFiles) {
  write_all(dir_ / "tokenizer_config.json", "{\"add_bos_token\": true, \"x\": -1e999}");
  expect_clean_failure(eval(), {file("tokenizer_config.json"), "invalid JSON"});
  write_all(dir_ / "tokenizer_config.json", "{}");
  write_all(dir_ / "tokenizer.json", "{\"version\": \"1.0\", \"model\": {\"dropout\": 1e400}}");
  expect_clean_failure(eval(), {file("tokenizer.json"), "invalid JSON"});
}

TEST_F(Hardening, JsonNumberOverflowInShardIndex) {
  write_all(dir_ / "model.safetensors.index.json",
            "{\"metadata\": {\"total_size\": 1e400}, \"weight_map\": {}}");
  expect_clean_failure(eval(), {file("model.safetensors.index.json"), "invalid JSON"});
}

TEST_F(Hardening, JsonNumberOverflowInJsonlDataset) {
  const fs::path jl = root_ / "docs.jsonl";
  write_all(jl, "{\"text\": \"one two three\"}\n{\"text\": \"four\", \"score\": 1e400}\n");
  expect_clean_failure(eval({}, jl.string()), {jl.string() + ":2", "invalid JSON"});
  expect_clean_failure(quantize({"--calib", jl.string(), "--seqlen", "8"}, "gptq"),
                       {jl.string() + ":2", "invalid JSON"});
}

TEST_F(Hardening, JsonNumberOverflowInQuantizeOutput) {
  ASSERT_EQ(quantize().exit_code, 0);
  const fs::path rep = root_ / "q" / "report.json";
  std::string s = read_all(rep);
  s.insert(s.find('{') + 1, "\"huge\": 1e400,");
  write_all(rep, s);
  expect_clean_failure(run_loaq({"export", "--format", "hf", "--out", (root_ / "e").string(),
                                 (root_ / "q").string()}),
                       {rep.string(), "invalid JSON"});
}

// Item 5: integer fields are integers in range; anything else names the key.
TEST_F(Hardening, IntegerConfigFieldsMustBeIntegersInRange) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"max_position_embeddings", "1e30"},
      {"hidden_size", "64.9"},
      {"hidden_size", "22222222222222222222"},
      {"num_hidden_layers", "-3"},
      {"vocab_size", "\"512\""},
      {"intermediate_size", "1e300"}};
  const std::string original = read_all(dir_ / "config.json");
  for (const auto& [key, value] : cases) {
    write_all(dir_ / "config.json", original);
    set_config(key, value);
    SCOPED_TRACE(key + " = " + value);
    expect_clean_failure(eval(), {file("config.json"), "'" + key + "'"});
    expect_clean_failure(quantize(), {file("config.json"), "'" + key + "'"});
  }
  EXPECT_FALSE(fs::exists(root_ / "q"));
}

// Item 6: config values that make the forward pass non-finite are refused, and so is a non-finite
// result.
TEST_F(Hardening, ConfigValuesThatBreakTheForwardPass) {
  const std::string original = read_all(dir_ / "config.json");
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"rope_theta", "0"},
                                                        {"rope_theta", "-10000"},
                                                        {"rms_norm_eps", "-1"},
                                                        {"rms_norm_eps", "0"}}) {
    write_all(dir_ / "config.json", original);
    set_config(key, value);
    SCOPED_TRACE(key + " = " + value);
    expect_clean_failure(eval(), {file("config.json"), "'" + key + "'", "positive"});
    expect_clean_failure(inspect(), {"'" + key + "'"});
  }
}

TEST_F(Hardening, NonFinitePerplexityIsAnError) {
  // A finite weight so large that the attention scores of layer 0 overflow.
  edit_weights([](const std::string& name, Tensor& t) {
    if (name == kQ) t.data[0] = 3e38f;
  });
  const auto r = eval();
  expect_clean_failure(r, {"perplexity on wikitext2", "decoder layer 0", dir_.string()});
  // Zero-shot log-likelihoods too.
  if (test::asset("data/arc"))
    expect_clean_failure(run_loaq({"eval", "--model", dir_.string(), "--data", data_, "--tasks",
                                   "arc_easy", "--limit", "2", "-q"}),
                         {"arc_easy", "log-likelihood"});
  // inspect flags the weight (|w| > sqrt(FLT_MAX)).
  expect_clean_failure(inspect(), {kQ, "sqrt(FLT_MAX)"});
}

TEST_F(Hardening, InspectAcceptsOrdinaryWeights) {
  const auto r = inspect();
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// Item 7: an integer tensor where a float weight is expected is refused, naming it.
TEST_F(Hardening, IntegerDtypeWeightIsRefused) {
  std::string raw = read_all(dir_ / "model.safetensors");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(raw[size_t(i)])) << (8 * i);
  auto header = nlohmann::ordered_json::parse(raw.substr(8, n));
  header[kQ]["dtype"] = "I32";  // same element size as F32: only the type changes
  std::string h = header.dump();
  h.append(n - std::min<size_t>(n, h.size()), ' ');
  ASSERT_EQ(h.size(), n);
  raw.replace(8, n, h);
  write_all(dir_ / "model.safetensors", raw);
  expect_clean_failure(eval(), {file("model.safetensors"), kQ, "dtype I32"});
  expect_clean_failure(quantize(), {kQ, "dtype I32"});
  expect_clean_failure(inspect(), {kQ, "dtype I32"});
}

// Item 8: the tokenizer/vocabulary check is made by every command, quantize included.
TEST_F(Hardening, TokenizerLargerThanVocabularyIsRefusedEverywhere) {
  set_config("vocab_size", "256");
  for (const auto& r : {eval(), quantize(), inspect()})
    expect_clean_failure(r, {"tokenizer has 512 tokens", file("config.json"), "vocab_size is 256"});
  EXPECT_FALSE(fs::exists(root_ / "q"));
}

// Item 9: a directory without a tokenizer is a problem for inspect too (not with --headers-only).
TEST_F(Hardening, InspectWithoutTokenizer) {
  fs::remove(dir_ / "tokenizer.model");
  expect_clean_failure(inspect(), {"missing tokenizer"});
  const auto r = inspect({"--headers-only"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_clean_failure(eval(), {"tokenizer"});
}

// Item 10: --seqlen 0 is an error, not the default; windows past the context are a warning.
TEST_F(Hardening, SeqlenZeroAndBeyondTheContext) {
  for (const char* v : {"0", "1", "-5"}) {
    const auto r = quantize({"--seqlen", v});
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(r.has("--seqlen")) << r.output;
    EXPECT_FALSE(fs::exists(root_ / "q"));
  }
  const auto e = quantize({"--eval", "wikitext2", "--eval-seqlen", "0"});
  EXPECT_EQ(e.exit_code, 2) << e.output;
  set_config("max_position_embeddings", "32");
  const auto r = eval();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.has("warning: --seqlen 64 exceeds max_position_embeddings 32")) << r.output;
}

// Item 11: an out-of-vocabulary id in --calib-ids names the file.
TEST_F(Hardening, CalibIdOutOfVocabularyNamesTheFile) {
  const fs::path ids = root_ / "ids.safetensors";
  std::vector<int64_t> v(64, 5);
  v[10] = 600;  // stories260K has 512 tokens
  write_safetensors(ids.string(),
                    {{"input_ids", DType::I64, {1, 64}, std::as_bytes(std::span(v))}});
  const auto r = quantize({"--calib-ids", ids.string()}, "gptq");
  expect_clean_failure(r, {ids.string(), "input_ids[10] = 600"});
  EXPECT_FALSE(fs::exists(root_ / "q"));
}

// Item 12: a group size that does not divide an input dimension is a warning naming the linears,
// and the GPTQ export refuses the result (the HF export stores it).
TEST(HardeningGroups, RaggedGroupWarnsAndGptqExportRefuses) {
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  const fs::path root =
      fs::temp_directory_path() / ("loaq-hardening-groups-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  const std::string q = (root / "q").string();
  auto r = run_loaq({"quantize", "-q", "--model", model, "--method", "rtn", "--wbits", "4", "--sym",
                     "--group", "7", "--out", q});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.has("warning: --group 7 does not divide the input dimension 256 of q_proj"))
      << r.output;
  EXPECT_TRUE(r.has("768 of down_proj")) << r.output;
  r = run_loaq({"export", "--format", "gptq", "--out", (root / "g").string(), q});
  EXPECT_TRUE(r.clean_failure()) << r.output;
  EXPECT_TRUE(r.has("group size 7 does not divide the input dimension")) << r.output;
  EXPECT_FALSE(fs::exists(root / "g"));
  r = run_loaq({"export", "--format", "hf", "--out", (root / "h").string(), q});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // A dividing group size gives no warning.
  r = run_loaq({"quantize", "-q", "--model", model, "--method", "rtn", "--wbits", "4", "--sym",
                "--group", "32", "--out", (root / "q32").string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(r.has("warning")) << r.output;
  fs::remove_all(root);
}

}  // namespace
}  // namespace loaq
