// `loaq eval` end to end: the command's JSON output reproduces the golden perplexity (BOS taken from
// tokenizer_config.json), and --no-bos gives the no-BOS key.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "io/json_file.h"
#include "test_assets.h"

namespace loaq {
namespace {

int run(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

TEST(CliEval, JsonMatchesGolden) {
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  LOAQ_REQUIRE_ASSET(golden, "golden/ppl.json");
  LOAQ_REQUIRE_ASSET(data, "data");
  const auto g = read_json_file(golden);
  const auto out = std::filesystem::temp_directory_path() / "loaq_cli_eval_test.json";
  for (const bool bos : {true, false}) {
    std::filesystem::remove(out);
    const std::string cmd = std::string(LOAQ_BINARY) + " eval -q --model " + model + " --data " + data +
                            " --ppl c4 --seqlen 256 --json " + out.string() + (bos ? "" : " --no-bos") +
                            " > /dev/null";
    ASSERT_EQ(run(cmd), 0) << cmd;
    const auto r = read_json_file(out.string());
    const auto& want = g.at(bos ? "stories260K/c4/seqlen256" : "stories260K/c4/seqlen256/no-bos");
    EXPECT_EQ(r.at("settings").at("bos").get<bool>(), bos);
    EXPECT_EQ(r.at("details").at("c4").at("n_tokens_encoded"), want.at("n_tokens_encoded"));
    EXPECT_NEAR(r.at("ppl").at("c4").get<double>(), want.at("ppl_full_precision").get<double>(),
                1e-4 * want.at("ppl_full_precision").get<double>());
  }
  std::filesystem::remove(out);
}

TEST(CliEval, PlainTextFileAndUnknownDataset) {
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  LOAQ_REQUIRE_ASSET(ptb, "data/ptb/ptb.test.txt");
  const std::string bin = LOAQ_BINARY;
  EXPECT_EQ(run(bin + " eval -q --model " + model + " --ppl " + ptb + " --seqlen 128 --max-windows 4 > /dev/null"), 0);
  EXPECT_EQ(run(bin + " eval -q --model " + model + " --ppl no-such-dataset > /dev/null 2>&1"), 1);
}

// --trace-mse: a model traced against itself is exact at every sub-layer; the JSON holds one row per
// sub-layer; the reference must have the quantized model's shapes.
TEST(CliEval, TraceMseAgainstItselfIsZero) {
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  LOAQ_REQUIRE_ASSET(other, "models/llama-mini-7m");
  const auto out = std::filesystem::temp_directory_path() / "loaq_cli_trace_test.json";
  std::filesystem::remove(out);
  const std::string bin = LOAQ_BINARY;
  const std::string cmd = bin + " eval -q --model " + model + " --trace-mse " + model +
                          " --seqlen 128 --trace-windows 3 --json " + out.string() + " > /dev/null";
  ASSERT_EQ(run(cmd), 0) << cmd;
  const auto r = read_json_file(out.string());
  EXPECT_FALSE(r.contains("ppl"));  // --trace-mse alone runs only the trace
  const auto& t = r.at("trace_mse");
  EXPECT_EQ(t.at("windows").get<int>(), 3);
  const auto& rows = t.at("sublayers");
  ASSERT_EQ(rows.size(), 10u);  // 5 layers: attn, mlp
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("mse").get<double>(), 0.0);
    EXPECT_EQ(row.at("tokens").get<int>(), 3 * 128);
  }
  EXPECT_EQ(rows[9].at("sublayer").get<std::string>(), "mlp");
  EXPECT_EQ(run(bin + " eval -q --model " + model + " --trace-mse " + other +
                " --seqlen 128 > /dev/null 2>&1"),
            1);
  std::filesystem::remove(out);
}

}  // namespace
}  // namespace loaq
