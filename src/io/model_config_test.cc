// config.json parsing (every shared model and the error cases) and Checkpoint directories: single
// file, sharded with an index, and the errors of a broken index or a weight missing or misshapen.
#include "io/model_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/error.h"
#include "expect_error.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/weights.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / ("loaq-model-config-test-" + std::to_string(::getpid()) +
                                         "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// Copies a (possibly read-only) file as a new, writable file.
void copy_bytes(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  ASSERT_TRUE(in.good()) << from;
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out << in.rdbuf();
  ASSERT_TRUE(out.good()) << to;
}

using test::expect_error;

// --------------------------------------------------------------------------------------------
// The shared models' config.json files

ModelConfig load_shared(const std::string& dir) {
  // Both forms: the directory and the file itself.
  const ModelConfig by_file = load_model_config(dir + "/config.json");
  const ModelConfig c = load_model_config(dir);
  EXPECT_EQ(by_file.architecture, c.architecture);
  EXPECT_EQ(by_file.hidden_size, c.hidden_size);
  return c;
}

TEST(ModelConfig, LlamaMini7m) {
  LOAQ_REQUIRE_ASSET(dir, "models/llama-mini-7m");
  const ModelConfig c = load_shared(dir);
  EXPECT_EQ(c.arch, Arch::kLlama);
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(arch_name(c.arch), "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.intermediate_size, 768);
  EXPECT_EQ(c.num_layers, 6);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.q_dim(), 256);
  EXPECT_EQ(c.kv_dim(), 128);
  EXPECT_EQ(c.vocab_size, 4096);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.rope_scaling.has_value());
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
  EXPECT_EQ(c.torch_dtype, "bfloat16");
}

TEST(ModelConfig, Stories260K) {
  LOAQ_REQUIRE_ASSET(dir, "models/stories260K");
  const ModelConfig c = load_shared(dir);
  EXPECT_EQ(c.arch, Arch::kLlama);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_FALSE(c.rope_scaling.has_value());
  EXPECT_EQ(c.torch_dtype, "float32");
}

TEST(ModelConfig, Qwen3Tiny) {
  LOAQ_REQUIRE_ASSET(dir, "models/qwen3-tiny");
  const ModelConfig c = load_shared(dir);
  EXPECT_EQ(c.arch, Arch::kQwen3);
  EXPECT_EQ(c.architecture, "Qwen3ForCausalLM");
  EXPECT_EQ(c.hidden_size, 128);
  EXPECT_EQ(c.intermediate_size, 384);
  EXPECT_EQ(c.num_layers, 3);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 64);  // explicit, not hidden_size / heads = 32
  EXPECT_EQ(c.q_dim(), 256);
  EXPECT_EQ(c.kv_dim(), 128);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_FALSE(c.rope_scaling.has_value());
}

TEST(ModelConfig, Qwen2Tiny) {
  LOAQ_REQUIRE_ASSET(dir, "models/qwen2-tiny");
  const ModelConfig c = load_shared(dir);
  EXPECT_EQ(c.arch, Arch::kQwen2);
  EXPECT_EQ(c.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(c.hidden_size, 128);
  EXPECT_EQ(c.intermediate_size, 256);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 1);
  EXPECT_EQ(c.head_dim, 32);  // derived: 128 / 4
  EXPECT_TRUE(c.qkv_bias);    // always for Qwen2
  EXPECT_FALSE(c.o_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.rope_scaling.has_value());  // "rope_scaling": null
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
}

TEST(ModelConfig, Llama3Tiny) {
  LOAQ_REQUIRE_ASSET(dir, "models/llama3-tiny");
  const ModelConfig c = load_shared(dir);
  EXPECT_EQ(c.arch, Arch::kLlama);
  EXPECT_EQ(c.hidden_size, 128);
  EXPECT_EQ(c.intermediate_size, 256);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_FALSE(c.tie_word_embeddings);
  ASSERT_TRUE(c.rope_scaling.has_value());
  EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling->low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling->original_max_position_embeddings, 64);
}

// Every model folder in the assets parses (new models included).
TEST(ModelConfig, EverySharedModelParses) {
  LOAQ_REQUIRE_ASSET(models, "models");
  int n = 0;
  for (const auto& e : fs::directory_iterator(models)) {
    if (!fs::exists(e.path() / "config.json")) continue;
    SCOPED_TRACE(e.path().string());
    EXPECT_NO_THROW(load_model_config(e.path().string()));
    ++n;
  }
  EXPECT_GE(n, 5);
}

// --------------------------------------------------------------------------------------------
// Error cases from inline JSON

const char* kPath = "/models/x/config.json";

json base_config() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "vocab_size": 100, "hidden_act": "silu"})");
}

TEST(ModelConfigErrors, BaseIsValid) {
  const ModelConfig c = parse_model_config(base_config(), kPath);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.num_kv_heads, 2);
  // Defaults.
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  json j = base_config();
  j.erase("num_key_value_heads");
  EXPECT_EQ(parse_model_config(j, kPath).num_kv_heads, 4);  // MHA when absent
  j = base_config();
  j["eos_token_id"] = {2, 7};
  j["attention_bias"] = true;
  j["mlp_bias"] = true;
  const ModelConfig b = parse_model_config(j, kPath);
  EXPECT_EQ(b.eos_token_ids, (std::vector<int64_t>{2, 7}));
  EXPECT_TRUE(b.qkv_bias && b.o_bias && b.mlp_bias);
  // Qwen3 without head_dim: 128 as in transformers' Qwen3Config.
  j = base_config();
  j["architectures"] = {"Qwen3ForCausalLM"};
  EXPECT_EQ(parse_model_config(j, kPath).head_dim, 128);
}

TEST(ModelConfigErrors, UnsupportedArchitecture) {
  for (const char* arch : {"MistralForCausalLM", "GPT2LMHeadModel"}) {
    json j = base_config();
    j["architectures"] = {arch};
    expect_error([&] { parse_model_config(j, kPath); },
                 {kPath, "'architectures'", arch, "unsupported architecture"});
  }
  json j = base_config();
  j["architectures"] = {"LlamaForCausalLM", "Qwen2ForCausalLM"};
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'architectures'", "exactly one"});
  j.erase("architectures");
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'architectures'", "found none"});
  j["architectures"] = "LlamaForCausalLM";
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'architectures'", "wrong type"});
}

// Through a real file: the message names the file's path.
TEST(ModelConfigErrors, UnsupportedArchitectureFromFile) {
  TempDir dir;
  json j = base_config();
  j["architectures"] = {"GPT2LMHeadModel"};
  write_text(dir.file("config.json"), j.dump(2));
  expect_error([&] { load_model_config(dir.str()); },
               {dir.file("config.json"), "'architectures'", "GPT2LMHeadModel"});
  expect_error([&] { Checkpoint c(dir.str()); }, {dir.file("config.json"), "'architectures'"});
}

TEST(ModelConfigErrors, UnsupportedRopeType) {
  json j = base_config();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'rope_scaling'", "'yarn'"});
  j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};  // older spelling
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'rope_scaling'", "'dynamic'"});
  j["rope_scaling"] = "llama3";
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'rope_scaling'"});
  // llama3 with a missing parameter names it.
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}};
  expect_error([&] { parse_model_config(j, kPath); },
               {kPath, "rope_scaling", "'high_freq_factor'"});
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 4.0},
                       {"high_freq_factor", 1.0},
                       {"original_max_position_embeddings", 8192}};
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'rope_scaling'", "inconsistent"});
  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_FALSE(parse_model_config(j, kPath).rope_scaling.has_value());
}

TEST(ModelConfigErrors, MissingField) {
  for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "vocab_size"}) {
    json j = base_config();
    j.erase(key);
    expect_error([&] { parse_model_config(j, kPath); },
                 {kPath, "missing field '" + std::string(key) + "'"});
  }
  json j = base_config();
  j["hidden_size"] = nullptr;
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "missing field 'hidden_size'"});
  j["hidden_size"] = "64";
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'hidden_size'", "wrong type"});
  j["hidden_size"] = -64;
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'hidden_size'", "positive"});
  expect_error([&] { parse_model_config(json::array(), kPath); }, {kPath, "not a JSON object"});
}

TEST(ModelConfigErrors, KvHeadsMustDivideHeads) {
  json j = base_config();
  j["num_key_value_heads"] = 3;
  expect_error([&] { parse_model_config(j, kPath); },
               {kPath, "'num_key_value_heads' (3)", "must divide", "'num_attention_heads' (4)"});
  j["num_key_value_heads"] = 0;
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'num_key_value_heads'"});
}

TEST(ModelConfigErrors, HeadDim) {
  json j = base_config();
  j["num_attention_heads"] = 3;
  j["num_key_value_heads"] = 1;
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'hidden_size'", "multiple"});
  j = base_config();
  j["head_dim"] = 15;
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'head_dim'", "even"});
}

TEST(ModelConfigErrors, UnsupportedActivation) {
  json j = base_config();
  j["hidden_act"] = "gelu";
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'hidden_act'", "'gelu'"});
}

TEST(ModelConfigErrors, SlidingWindow) {
  json j = base_config();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["use_sliding_window"] = true;
  expect_error([&] { parse_model_config(j, kPath); }, {kPath, "'use_sliding_window'"});
}

TEST(ModelConfigErrors, Files) {
  TempDir dir;
  expect_error([&] { load_model_config(dir.str()); }, {dir.str(), "no config.json"});
  write_text(dir.file("config.json"), "{\"architectures\": [\"LlamaForCausalLM\",");
  expect_error([&] { load_model_config(dir.str()); }, {dir.file("config.json"), "invalid JSON"});
  expect_error([&] { read_json_file(dir.file("nope.json")); },
               {dir.file("nope.json"), "cannot open"});
}

// --------------------------------------------------------------------------------------------
// Checkpoint directories

// Writes `dir`/`file` with the given tensors of `src` (bytes as stored), replacing some.
void write_subset(const SafetensorsFile& src, const std::string& path,
                  const std::vector<std::string>& names,
                  const std::map<std::string, TensorToWrite>& replace = {}) {
  std::vector<TensorToWrite> ts;
  for (const auto& n : names) {
    if (auto it = replace.find(n); it != replace.end()) {
      ts.push_back(it->second);
      continue;
    }
    const TensorInfo* t = src.find(n);
    ASSERT_NE(t, nullptr) << n;
    ts.push_back({t->name, t->dtype, t->shape, src.bytes(*t)});
  }
  write_safetensors(path, std::move(ts));
}

std::vector<std::string> names_of(const SafetensorsFile& f) {
  std::vector<std::string> v;
  for (const auto& t : f.tensors()) v.push_back(t.name);
  return v;
}

TEST(Checkpoint, SingleFile) {
  LOAQ_REQUIRE_ASSET(dir, "models/stories260K");
  const Checkpoint c(dir);
  EXPECT_EQ(c.dir(), dir);
  EXPECT_EQ(c.files().size(), 1u);
  EXPECT_EQ(c.config().hidden_size, 64);
  EXPECT_TRUE(c.has("model.embed_tokens.weight"));
  EXPECT_FALSE(c.has("lm_head.weight"));  // tied
  EXPECT_EQ(c.info("model.embed_tokens.weight").shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(c.load_f32("model.norm.weight").shape, std::vector<int64_t>{64});
  expect_error([&] { c.info("nope"); }, {dir, "'nope'"});
  expect_error([&] { c.load_f32("nope"); }, {dir, "'nope'"});
  const auto names = c.tensor_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(names.size(), c.files()[0].tensors().size());
}

// llama-mini-7m split over two shards with an index gives bit-identical logits.
TEST(Checkpoint, ShardedMatchesSingleFile) {
  LOAQ_REQUIRE_ASSET(src_dir, "models/llama-mini-7m");
  TempDir dir;
  {
    const SafetensorsFile src(src_dir + "/model.safetensors");
    const auto names = names_of(src);
    ASSERT_GT(names.size(), 2u);
    // Interleave so both shards hold tensors of every layer.
    std::vector<std::string> a, b;
    for (size_t i = 0; i < names.size(); ++i) (i % 2 ? b : a).push_back(names[i]);
    const std::string f1 = "model-00001-of-00002.safetensors";
    const std::string f2 = "model-00002-of-00002.safetensors";
    write_subset(src, dir.file(f1), a);
    write_subset(src, dir.file(f2), b);
    json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
    for (const auto& n : a) index["weight_map"][n] = f1;
    for (const auto& n : b) index["weight_map"][n] = f2;
    write_text(dir.file("model.safetensors.index.json"), index.dump(2));
    copy_bytes(src_dir + "/config.json", dir.file("config.json"));
  }

  const Checkpoint sharded(dir.str());
  const Checkpoint single(src_dir);
  EXPECT_EQ(sharded.files().size(), 2u);
  EXPECT_EQ(sharded.tensor_names(), single.tensor_names());

  const Model m1 = load_model(single);
  const Model m2 = load_model(dir.str());
  const std::vector<int32_t> ids = {1, 15, 300, 7, 4095, 42, 2, 999};
  const BatchShape s{1, int64_t(ids.size())};
  const Tensor l1 = forward(m1, ids, s);
  const Tensor l2 = forward(m2, ids, s);
  ASSERT_EQ(l1.shape, l2.shape);
  EXPECT_EQ(l1.shape, (std::vector<int64_t>{8, 4096}));
  EXPECT_EQ(std::memcmp(l1.ptr(), l2.ptr(), size_t(l1.numel()) * sizeof(float)), 0);
}

class CheckpointErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto d = test::asset("models/stories260K");
    if (!d) GTEST_SKIP() << "asset 'models/stories260K' not found (set LOAQ_ASSETS)";
    src_dir_ = *d;
    copy_bytes(src_dir_ + "/config.json", dir_.file("config.json"));
  }
  std::string src_dir_;
  TempDir dir_;
};

// Two shards and an index; `edit` may change the index before it is written.
void write_two_shards(const std::string& src_dir, const TempDir& dir,
                      const std::function<void(json&)>& edit) {
  const SafetensorsFile src(src_dir + "/model.safetensors");
  const auto names = names_of(src);
  const size_t half = names.size() / 2;
  const std::vector<std::string> a(names.begin(), names.begin() + long(half));
  const std::vector<std::string> b(names.begin() + long(half), names.end());
  write_subset(src, dir.file("s1.safetensors"), a);
  write_subset(src, dir.file("s2.safetensors"), b);
  json index = {{"weight_map", json::object()}};
  for (const auto& n : a) index["weight_map"][n] = "s1.safetensors";
  for (const auto& n : b) index["weight_map"][n] = "s2.safetensors";
  edit(index);
  write_text(dir.file("model.safetensors.index.json"), index.dump());
}

TEST_F(CheckpointErrors, ShardedLoads) {
  write_two_shards(src_dir_, dir_, [](json&) {});
  const Checkpoint c(dir_.str());
  EXPECT_EQ(c.files().size(), 2u);
  EXPECT_NO_THROW(load_weights(c));
}

TEST_F(CheckpointErrors, MissingShard) {
  write_two_shards(src_dir_, dir_, [](json&) {});
  fs::remove(dir_.file("s2.safetensors"));
  const std::string index = dir_.file("model.safetensors.index.json");
  expect_error([&] { Checkpoint c(dir_.str()); }, {index, "'s2.safetensors'", "does not exist"});
}

TEST_F(CheckpointErrors, IndexListsTensorTheShardLacks) {
  write_two_shards(src_dir_, dir_,
                   [](json& j) { j["weight_map"]["model.extra.weight"] = "s1.safetensors"; });
  expect_error([&] { Checkpoint c(dir_.str()); },
               {dir_.file("model.safetensors.index.json"), "'model.extra.weight'",
                "'s1.safetensors'", "no such tensor"});
  // Listed in the wrong shard.
  write_two_shards(src_dir_, dir_, [](json& j) {
    j["weight_map"]["model.norm.weight"] = j["weight_map"]["model.norm.weight"] == "s1.safetensors"
                                               ? "s2.safetensors"
                                               : "s1.safetensors";
  });
  expect_error([&] { Checkpoint c(dir_.str()); }, {"'model.norm.weight'", "no such tensor"});
}

TEST_F(CheckpointErrors, BadIndex) {
  const std::string index = dir_.file("model.safetensors.index.json");
  write_two_shards(src_dir_, dir_, [](json& j) { j.erase("weight_map"); });
  expect_error([&] { Checkpoint c(dir_.str()); }, {index, "'weight_map'"});
  write_two_shards(src_dir_, dir_, [](json& j) { j["weight_map"]["x"] = 3; });
  expect_error([&] { Checkpoint c(dir_.str()); }, {index, "'x'", "not a string"});
  write_two_shards(src_dir_, dir_,
                   [](json& j) { j["weight_map"]["x"] = "../stories260K/model.safetensors"; });
  expect_error([&] { Checkpoint c(dir_.str()); }, {index, "'x'", "outside the directory"});
  write_text(index, "{\"weight_map\": ");
  expect_error([&] { Checkpoint c(dir_.str()); }, {index, "invalid JSON"});
}

TEST_F(CheckpointErrors, NoWeightsFile) {
  expect_error([&] { Checkpoint c(dir_.str()); },
               {dir_.str(), "no model.safetensors or model.safetensors.index.json"});
  expect_error([&] { Checkpoint c(dir_.file("nowhere")); },
               {dir_.file("nowhere"), "not a directory"});
}

TEST_F(CheckpointErrors, MissingWeight) {
  const std::string dropped = "model.layers.0.mlp.up_proj.weight";
  {
    const SafetensorsFile src(src_dir_ + "/model.safetensors");
    auto names = names_of(src);
    std::erase(names, dropped);
    write_subset(src, dir_.file("model.safetensors"), names);
  }
  const Checkpoint c(dir_.str());  // opening does not need every weight
  EXPECT_FALSE(c.has(dropped));
  EXPECT_THROW(load_weights(c), Error);
  expect_error([&] { load_weights(c); }, {dir_.str(), "'" + dropped + "'"});
  expect_error([&] { load_layer(c, 0); }, {"'" + dropped + "'"});
  EXPECT_NO_THROW(load_layer(c, 1));
}

TEST_F(CheckpointErrors, WrongShape) {
  const std::string name = "model.layers.0.mlp.up_proj.weight";
  {
    const SafetensorsFile src(src_dir_ + "/model.safetensors");
    const TensorInfo* t = src.find(name);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->shape, (std::vector<int64_t>{172, 64}));
    // The same bytes, transposed shape.
    write_subset(src, dir_.file("model.safetensors"), names_of(src),
                 {{name, TensorToWrite{name, t->dtype, {64, 172}, src.bytes(*t)}}});
  }
  const Checkpoint c(dir_.str());
  expect_error([&] { load_weights(c); }, {dir_.file("model.safetensors"), "'" + name + "'",
                                          "[64, 172]", "[172, 64]", "config.json"});
}

TEST_F(CheckpointErrors, NonFiniteWeight) {
  const std::string name = "model.layers.1.self_attn.k_proj.weight";
  Tensor bad;
  {
    const SafetensorsFile src(src_dir_ + "/model.safetensors");
    bad = src.read_f32(name);
    bad.data[3] = std::numeric_limits<float>::infinity();
    write_subset(src, dir_.file("model.safetensors"), names_of(src),
                 {{name, f32_entry(name, bad)}});
  }
  const Checkpoint c(dir_.str());
  expect_error([&] { load_weights(c); },
               {dir_.file("model.safetensors"), "'" + name + "'", "non-finite"});
}

}  // namespace
}  // namespace loaq
