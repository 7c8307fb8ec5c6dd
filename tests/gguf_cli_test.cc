// The GGUF commands end to end: `loaq export --format gguf`, `loaq inspect FILE.gguf` and
// `loaq eval --model FILE.gguf` (an F32 GGUF evaluates to exactly the perplexity of its source
// directory; a Q4_K_M one to a nearby one), and each bad input a clean error naming what is wrong.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli_run.h"
#include "io/json_file.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

fs::path tmp(const std::string& name) {
  const auto d = fs::temp_directory_path() / ("loaq-gguf-cli-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d / name;
}

double eval_ppl(const std::vector<std::string>& model_args, const std::string& data,
                const std::string& json) {
  std::vector<std::string> args = {"eval",     "-q",  "--data",        data, "--ppl",  "wikitext2",
                                   "--seqlen", "128", "--max-windows", "4",  "--json", json};
  args.insert(args.end(), model_args.begin(), model_args.end());
  const auto r = test::run_loaq(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return read_json_file(json).at("ppl").at("wikitext2").get<double>();
}

TEST(GgufCli, ExportInspectEval) {
  LOAQ_REQUIRE_ASSET(dir, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(data, "data");
  const std::string f32 = tmp("f32.gguf").string(), q4k = tmp("q4k.gguf").string();
  for (const auto& [type, out] : {std::pair{"F32", f32}, std::pair{"Q4_K_M", q4k}}) {
    const auto r =
        test::run_loaq({"export", "--format", "gguf", "--type", type, "--out", out, dir});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const auto ins = test::run_loaq({"inspect", q4k});
  EXPECT_EQ(ins.exit_code, 0) << ins.output;
  EXPECT_TRUE(ins.has("GGUF v3")) << ins.output;
  EXPECT_TRUE(ins.has("Q4_K ")) << ins.output;  // the mixture: Q4_K and Q6_K tensors
  EXPECT_TRUE(ins.has("Q6_K ")) << ins.output;
  EXPECT_TRUE(ins.has("all finite")) << ins.output;

  const double ref = eval_ppl({"--model", dir}, data, tmp("ref.json").string());
  const double g32 = eval_ppl({"--model", f32, "--tokenizer", dir}, data, tmp("f32.json").string());
  const double g4 = eval_ppl({"--model", q4k, "--tokenizer", dir}, data, tmp("q4k.json").string());
  EXPECT_NEAR(g32, ref, 1e-9 * ref);  // bf16 weights are exact in F32: the same model
  EXPECT_NE(g4, ref);                 // 4.5 bits per weight change the model a little
  EXPECT_NEAR(g4, ref, 0.1 * ref);

  // Replacing: only with --force, and only a GGUF file.
  auto again = test::run_loaq({"export", "--format", "gguf", "--out", f32, dir});
  EXPECT_TRUE(again.clean_failure() && again.has("--force")) << again.output;
  again = test::run_loaq({"export", "--format", "gguf", "--force", "--out", f32, dir});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  const std::string text = tmp("notes.txt").string();
  std::ofstream(text) << "not a model\n";
  again = test::run_loaq({"export", "--format", "gguf", "--force", "--out", text, dir});
  EXPECT_TRUE(again.clean_failure() && again.has("not a GGUF")) << again.output;
  fs::remove_all(tmp(""));
}

TEST(GgufCli, BadInputsAreCleanErrors) {
  LOAQ_REQUIRE_ASSET(dir, "models/qwen3-tiny");
  const std::string good = tmp("good.gguf").string();
  ASSERT_EQ(test::run_loaq({"export", "--format", "gguf", "--type", "Q8_0", "--out", good, dir})
                .exit_code,
            0);
  // A type loaq does not write, an output inside the input, a GGUF without --tokenizer.
  auto r = test::run_loaq(
      {"export", "--format", "gguf", "--type", "IQ2_XS", "--out", tmp("x.gguf").string(), dir});
  EXPECT_TRUE(r.clean_failure() && r.has("--type IQ2_XS")) << r.output;
  r = test::run_loaq({"export", "--format", "gguf", "--out", dir + "/model.gguf", dir});
  EXPECT_TRUE(r.clean_failure() && r.has("inside the input")) << r.output;
  r = test::run_loaq({"eval", "--model", good, "--ppl", "wikitext2"});
  EXPECT_TRUE(r.clean_failure() && r.has("--tokenizer")) << r.output;
  // Damaged files: truncated, a tensor count beyond the file, a wrong version.
  std::ifstream in(good, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), {}};
  auto damaged = [&](const std::string& name, std::string b) {
    const std::string p = tmp(name).string();
    std::ofstream(p, std::ios::binary) << b;
    return p;
  };
  std::string v2 = bytes, many = bytes;
  v2[4] = 2;
  many[15] = 0x7f;
  for (const auto& [name, b, what] :
       {std::tuple{"trunc.gguf", bytes.substr(0, bytes.size() / 2), "past the end"},
        std::tuple{"v2.gguf", v2, "version 2"}, std::tuple{"many.gguf", many, "tensor count"}}) {
    const std::string p = damaged(name, b);
    for (const auto& cmd : {std::vector<std::string>{"inspect", p},
                            std::vector<std::string>{"eval", "--model", p, "--tokenizer", dir}}) {
      r = test::run_loaq(cmd);
      EXPECT_TRUE(r.clean_failure() && r.has(p) && r.has(what)) << name << ": " << r.output;
    }
  }
  fs::remove_all(tmp(""));
}

}  // namespace
}  // namespace loaq
