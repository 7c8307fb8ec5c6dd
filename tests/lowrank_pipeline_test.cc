// The low-rank branch inside `loaq quantize` (issue 14): branches fitted after each linear's solve
// are in quant_state.safetensors and report.json, `loaq eval` of the output runs them (the 16-bit
// branch's perplexity equals that of the `--format hf --merge-lowrank` export, whose weights are
// checked against base + B·A of the PEFT adapter in lowrank_export_test.cc), the branch lowers
// the solver's objective, and a resumed run keeps every byte.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli_helpers.h"
#include "io/json_file.h"
#include "io/lowrank_state.h"
#include "io/safetensors.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

using test::read_all;
using test::run;
using test::TempDir;

double eval_ppl(const std::string& model, const std::string& data, const fs::path& json) {
  std::string log;
  EXPECT_EQ(run(std::string(LOAQ_BINARY) + " eval -q --model " + model + " --data " + data +
                    " --ppl wikitext2 --seqlen 128 --max-windows 6 --json " + json.string(),
                &log),
            0)
      << log;
  return read_json_file(json.string()).at("ppl").at("wikitext2").get<double>();
}

TEST(LowRankPipeline, BranchesAreStoredReportedAndRunByEval) {
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  TempDir t("lrpipe_eval");
  const std::string bin = LOAQ_BINARY, q = (t.p / "q").string(), plain = (t.p / "plain").string(),
                    merged = (t.p / "merged").string();
  const std::string args = " quantize -q --model " + model + " --data " + data +
                           " --method gptq --wbits 2 --nsamples 8 --seqlen 128";
  std::string log;
  ASSERT_EQ(run(bin + args + " --out " + plain, &log), 0) << log;
  ASSERT_EQ(run(bin + args + " --lowrank qera --rank 8 --lowrank-bits 16,16 --out " + q, &log), 0)
      << log;

  // Stored: every linear has its branch, rank 8 (or less where a side is smaller).
  const auto st = SafetensorsSet::single(q + "/quant_state.safetensors");
  const auto lins = lowrank_linears(st);
  EXPECT_EQ(lins.size(), 5u * 7u);  // stories260K: 5 layers × 7 linears
  const auto cfg = read_json_file(q + "/config.json");
  EXPECT_TRUE(cfg.at("loaq").at("lowrank_branches").get<bool>());
  // Reported: the branch lowers each linear's objective against the same target.
  const auto rep = read_json_file(q + "/report.json");
  EXPECT_EQ(rep.at("settings").at("lowrank").at("rule"), "qera");
  int lower = 0;
  for (const auto& l : rep.at("linears")) {
    ASSERT_TRUE(l.contains("lowrank")) << l.dump();
    EXPECT_GT(l.at("lowrank").at("bytes").get<int64_t>(), 0);
    EXPECT_LE(l.at("rel_objective").get<double>(),
              l.at("lowrank").at("rel_objective_without").get<double>() * (1 + 1e-9))
        << l.dump();
    lower += l.at("rel_objective").get<double>() < l.at("lowrank").at("rel_objective_without");
  }
  EXPECT_EQ(lower, 35);
  EXPECT_GT(rep.at("timings").at("lowrank").get<double>(), 0.0);

  // Run by eval: the branch changes the perplexity (its main layers differ from `plain` only
  // through the branches the later linears calibrated on) and equals the merged export's.
  const double p_branch = eval_ppl(q, data, t.p / "a.json");
  const double p_plain = eval_ppl(plain, data, t.p / "b.json");
  EXPECT_LT(p_branch, p_plain);
  ASSERT_EQ(
      run(bin + " export -q --format hf --merge-lowrank --dtype float32 --out " + merged + " " + q,
          &log),
      0)
      << log;
  EXPECT_FALSE(read_json_file(merged + "/config.json").contains("loaq"));
  const double p_merged = eval_ppl(merged, data, t.p / "c.json");
  EXPECT_NEAR(p_branch, p_merged, 1e-4 * p_merged);
  EXPECT_NE(p_branch, p_merged) << "the branch ran as a merged weight, not as a branch";

  // A model that already carries branches is not quantized again.
  EXPECT_EQ(
      run(bin + " quantize -q --model " + q + " --data " + data +
              " --method gptq --wbits 2 --nsamples 2 --seqlen 32 --out " + (t.p / "again").string(),
          &log),
      1);
  EXPECT_NE(log.find("already carry low-rank branches"), std::string::npos) << log;
  // A missing quant_state is an error naming the directory.
  fs::remove(fs::path(q) / "quant_state.safetensors");
  EXPECT_EQ(run(bin + " eval -q --model " + q + " --data " + data + " --ppl wikitext2", &log), 1);
  EXPECT_NE(log.find("no quant_state.safetensors"), std::string::npos) << log;
}

// A run stopped after layer 2 and resumed writes the same bytes as one uninterrupted run, for a
// branch that needs the mean |x| (lqer) and for the quantized LoRaQ descent on the weighted loss.
TEST(LowRankPipeline, ResumeKeepsTheBranchesBitIdentical) {
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(data, "data");
  TempDir t("lrpipe_resume");
  const std::string bin = LOAQ_BINARY;
  for (const std::string lr : {"--lowrank lqer --rank 8 --lowrank-bits 8,8",
                               "--lowrank loaq --lowrank-weighted --rank 4 --lowrank-bits 4,8 "
                               "--lowrank-steps 20 --abits 8"}) {
    const std::string args =
        " quantize -q --model " + model + " --data " + data +
        " --method loaq --wbits 2 --nsamples 4 --seqlen 64 --chunk-samples 2 " + lr +
        " --force --out ";
    const fs::path one = t.p / "one", two = t.p / "two";
    std::string log;
    ASSERT_EQ(run(bin + args + one.string(), &log), 0) << lr << "\n" << log;
    EXPECT_EQ(run(bin + args + two.string() + " --stop-after-layer 2", &log), 75) << log;
    ASSERT_EQ(run(bin + args + two.string() + " --resume", &log), 0) << log;
    for (const char* f : {"quant_state.safetensors", "model.safetensors", "config.json"})
      EXPECT_TRUE(read_all(one / f) == read_all(two / f)) << lr << ": " << f << " differs";
    const auto r1 = read_json_file((one / "report.json").string());
    const auto r2 = read_json_file((two / "report.json").string());
    ASSERT_EQ(r1.at("linears").size(), r2.at("linears").size());
    for (size_t i = 0; i < r1.at("linears").size(); ++i)
      EXPECT_EQ(r1.at("linears").at(i).at("lowrank").at("rel_objective_without"),
                r2.at("linears").at(i).at("lowrank").at("rel_objective_without"));
  }
}

}  // namespace
}  // namespace loaq
