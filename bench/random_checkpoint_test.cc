// Random-weight checkpoints: the presets are the real models (parameter counts, shard counts of a
// full-size plan), a small preset-derived checkpoint loads with loaq's Checkpoint, its shards and
// index agree with each other and with the Hub's format, values follow the seed only (not threads)
// and have the intended distribution, and bad options fail with a clear message.
#include "random_checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "ckpt_presets.h"
#include "core/env.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "test_assets.h"

namespace loaq::bench {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("loaq-ckptgen-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& n) const { return (path_ / n).string(); }

 private:
  fs::path path_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

uint64_t params_of(const std::vector<HfTensor>& ts) {
  uint64_t n = 0;
  for (const auto& t : ts) n += uint64_t(shape_numel(t.spec.shape));
  return n;
}

ModelConfig preset_config(const std::string& name) {
  return parse_model_config(nlohmann::json::parse(find_ckpt_preset(name).config.dump()), name);
}

// Published parameter counts and the shards a 5 GB bf16 plan gives (Meta-Llama-3-8B: 4 shards,
// total_size 16,060,522,496 in its index; Llama-3.2-1B: one model.safetensors).
TEST(CkptPresets, AreTheRealModels) {
  struct Want {
    const char* name;
    uint64_t params;
    size_t shards;
  };
  for (const Want& w :
       {Want{"llama-3-8b", 8'030'261'248ull, 4}, Want{"qwen3-8b", 8'190'735'360ull, 4},
        Want{"llama-3.2-1b", 1'235'814'400ull, 1}}) {
    SCOPED_TRACE(w.name);
    const auto c = preset_config(w.name);
    const auto ts = hf_tensors(c, DType::BF16);
    EXPECT_EQ(params_of(ts), w.params);
    EXPECT_EQ(plan_shards(ts, kHubShardBytes).size(), w.shards);
  }
  const auto l3 = preset_config("llama-3-8b");
  EXPECT_EQ(l3.num_layers, 32);
  EXPECT_EQ(l3.kv_dim(), 1024);
  EXPECT_FALSE(l3.rope_scaling.has_value());
  const auto l32 = preset_config("llama-3.2-1b");
  ASSERT_TRUE(l32.rope_scaling.has_value());
  EXPECT_EQ(l32.rope_scaling->factor, 32.0);
  EXPECT_TRUE(l32.tie_word_embeddings);
  const auto q3 = preset_config("qwen3-8b");
  EXPECT_EQ(q3.arch, Arch::kQwen3);
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_EQ(q3.head_dim, 128);
  EXPECT_EQ(q3.num_layers, 36);
  try {
    find_ckpt_preset("llama-9");
    ADD_FAILURE() << "unknown preset accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("known: llama-3-8b, qwen3-8b, llama-3.2-1b"),
              std::string::npos)
        << e.what();
  }
}

TEST(CkptPlan, SplitsAsTheHubDoes) {
  auto t = [](const char* n, int64_t numel) {
    return HfTensor{{n, DType::BF16, {numel}}, Init::kNormal};
  };
  // 2-byte elements, limit 100 bytes: a and b fit (80), c (40) starts a new shard, d (120) is
  // larger than the limit and gets a shard of its own, e joins c's.
  const std::vector<HfTensor> ts = {t("a", 20), t("b", 20), t("c", 20), t("d", 60), t("e", 10)};
  const auto s = plan_shards(ts, 100);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], (std::vector<size_t>{0, 1}));
  EXPECT_EQ(s[1], (std::vector<size_t>{3}));
  EXPECT_EQ(s[2], (std::vector<size_t>{2, 4}));
  EXPECT_THROW(plan_shards(ts, 0), Error);
}

TEST(CkptValues, NormalWithStd002AndIndependentOfPieces) {
  std::vector<float> whole(200001);
  random_values(7, "w", Init::kNormal, 0, whole);
  double sum = 0, sq = 0;
  for (float v : whole) sum += v, sq += double(v) * v;
  const double mean = sum / double(whole.size()), sd = std::sqrt(sq / double(whole.size()));
  EXPECT_NEAR(mean, 0.0, 2e-4);
  EXPECT_NEAR(sd, 0.02, 2e-4);
  // Pieces starting at odd offsets give the same elements.
  std::vector<float> part(1001);
  random_values(7, "w", Init::kNormal, 12345, part);
  for (size_t i = 0; i < part.size(); ++i) ASSERT_EQ(part[i], whole[12345 + i]) << i;
  // Another seed or name gives other values.
  random_values(8, "w", Init::kNormal, 12345, part);
  EXPECT_NE(part[0], whole[12345]);
  random_values(7, "v", Init::kNormal, 12345, part);
  EXPECT_NE(part[0], whole[12345]);
  random_values(7, "w", Init::kOnes, 0, part);
  EXPECT_EQ(part[3], 1.0f);
}

// A Llama-3-8B-derived model with one layer and small widths.
RandomCheckpointOptions tiny(const std::string& preset, const std::string& out) {
  RandomCheckpointOptions o;
  o.config = find_ckpt_preset(preset).config;
  o.set = {{"hidden_size", 64},        {"intermediate_size", 96}, {"num_attention_heads", 4},
           {"num_key_value_heads", 2}, {"vocab_size", 300},       {"head_dim", 16}};
  o.layers = 1;
  o.seed = 3;
  o.shard_bytes = 40'000;
  o.out = out;
  o.progress = false;
  return o;
}

std::map<std::string, std::string> dir_bytes(const std::string& dir) {
  std::map<std::string, std::string> m;
  for (const auto& e : fs::directory_iterator(dir))
    m[e.path().filename().string()] = read_all(e.path().string());
  return m;
}

TEST(CkptWrite, TinyLlamaLoadsShardsAgreeAndValuesFollowTheSeed) {
  TempDir tmp;
  const std::string out = tmp.file("ck");
  auto o = tiny("llama-3-8b", out);
  set_num_threads(2);
  const auto r = write_random_checkpoint(o);
  EXPECT_EQ(r.config.num_layers, 1);
  EXPECT_EQ(r.config.hidden_size, 64);

  const Checkpoint ck(out);
  EXPECT_EQ(ck.config().torch_dtype, "bfloat16");
  EXPECT_EQ(ck.config().vocab_size, 300);
  const auto want = hf_tensors(ck.config(), DType::BF16);
  std::set<std::string> names;
  uint64_t total = 0;
  for (const auto& t : want) {
    names.insert(t.spec.name);
    total += uint64_t(shape_numel(t.spec.shape)) * 2;
    const auto& info = ck.info(t.spec.name);
    EXPECT_EQ(info.dtype, DType::BF16) << t.spec.name;
    EXPECT_EQ(info.shape, t.spec.shape) << t.spec.name;
  }
  const auto got_names = ck.tensor_names();
  EXPECT_EQ(std::set<std::string>(got_names.begin(), got_names.end()), names);
  EXPECT_EQ(r.total_bytes, total);

  // The index: HF's format, consistent with the shards (every shard holds exactly its tensors).
  const auto idx = read_json_file(out + "/model.safetensors.index.json");
  EXPECT_EQ(idx["metadata"]["total_size"].get<uint64_t>(), total);
  std::map<std::string, std::set<std::string>> per_file;
  for (const auto& [k, v] : idx["weight_map"].items()) per_file[v.get<std::string>()].insert(k);
  const size_t ns = per_file.size();
  EXPECT_GE(ns, 3u);
  size_t seen = 0;
  for (const auto& [file, ts] : per_file) {
    EXPECT_EQ(file, fmt::format("model-{:05d}-of-{:05d}.safetensors", ++seen, ns));
    SafetensorsFile f(out + "/" + file);
    std::set<std::string> in_file;
    for (const auto& t : f.tensors()) in_file.insert(t.name);
    EXPECT_EQ(in_file, ts) << file;
    EXPECT_EQ(f.metadata().at("format"), "pt");
  }
  EXPECT_FALSE(fs::exists(out + "/model.safetensors"));

  // Values: norms 1, linears the seeded normals rounded to bf16.
  const auto norm = ck.load_f32("model.layers.0.input_layernorm.weight");
  for (float v : norm.data) ASSERT_EQ(v, 1.0f);
  const auto q = ck.load_f32("model.layers.0.self_attn.q_proj.weight");
  std::vector<float> ref(q.data.size());
  random_values(3, "model.layers.0.self_attn.q_proj.weight", Init::kNormal, 0, ref);
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_EQ(q.data[i], bf16_to_f32(f32_to_bf16(ref[i]))) << i;
  const auto head = ck.load_f32("lm_head.weight");
  const auto embed = ck.load_f32("model.embed_tokens.weight");
  EXPECT_NE(head.data, embed.data);

  // Same seed, one thread: the same bytes. Another seed: other weight bytes, same config.
  const auto first = dir_bytes(out);
  set_num_threads(1);
  o.force = true;
  write_random_checkpoint(o);
  EXPECT_EQ(dir_bytes(out), first);
  o.seed = 4;
  write_random_checkpoint(o);
  const auto other = dir_bytes(out);
  EXPECT_EQ(other.at("config.json"), first.at("config.json"));
  EXPECT_NE(other.at("model-00001-of-" + fmt::format("{:05d}", ns) + ".safetensors"),
            first.at("model-00001-of-" + fmt::format("{:05d}", ns) + ".safetensors"));
  set_num_threads(0);
}

TEST(CkptWrite, TinyQwen3SingleFileF32WithTokenizer) {
  LOAQ_REQUIRE_ASSET(tok, "tokenizers/qwen3");
  TempDir tmp;
  auto o = tiny("qwen3-8b", tmp.file("q"));
  o.shard_bytes = kHubShardBytes;
  o.dtype = DType::F32;
  o.tokenizer_dir = tok;
  write_random_checkpoint(o);
  const Checkpoint ck(o.out);
  EXPECT_EQ(ck.config().arch, Arch::kQwen3);
  EXPECT_EQ(ck.config().torch_dtype, "float32");
  EXPECT_EQ(ck.files().size(), 1u);
  EXPECT_FALSE(fs::exists(o.out + "/model.safetensors.index.json"));
  EXPECT_EQ(ck.info("model.layers.0.self_attn.k_norm.weight").shape, (std::vector<int64_t>{16}));
  EXPECT_EQ(ck.info("model.layers.0.self_attn.q_proj.weight").dtype, DType::F32);
  EXPECT_EQ(read_all(o.out + "/tokenizer.json"), read_all(tok + "/tokenizer.json"));
  EXPECT_EQ(read_all(o.out + "/tokenizer_config.json"), read_all(tok + "/tokenizer_config.json"));
}

TEST(CkptWrite, BadOptionsFailClearlyAndLeaveNothing) {
  TempDir tmp;
  auto o = tiny("llama-3.2-1b", tmp.file("x"));
  auto expect_error = [&](const std::string& part) {
    try {
      write_random_checkpoint(o);
      ADD_FAILURE() << "no error, wanted '" << part << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(o.out));
  };
  o.set.push_back({"num_key_value_heads", 3});
  expect_error("'num_key_value_heads' (3) must divide");
  o.set.back() = {"hidden_act", "gelu"};
  expect_error("unsupported activation 'gelu'");
  o.set.pop_back();
  o.layers = -2;
  expect_error("--layers must be positive");
  o.layers = 1;
  o.tokenizer_dir = tmp.file("nowhere");
  expect_error("no tokenizer.json");
  o.tokenizer_dir.clear();
  o.dtype = DType::I32;
  expect_error("--dtype");
  o.dtype = DType::BF16;
  // An existing directory is refused without force.
  fs::create_directories(o.out);
  EXPECT_THROW(write_random_checkpoint(o), Error);
  EXPECT_TRUE(fs::is_empty(o.out));
}

}  // namespace
}  // namespace loaq::bench
