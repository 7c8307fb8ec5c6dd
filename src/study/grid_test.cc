#include "study/grid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "test_assets.h"

namespace loaq::study {
namespace {

Experiment exp_of(const std::string& yaml) {
  return parse_experiment(yaml, (std::filesystem::temp_directory_path() / "e.yaml").string());
}

TEST(Grid, CartesianProductResolvedAndDeduplicated) {
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  const auto assets = *test::assets_dir();
  const Experiment e = exp_of(R"(
name: g
models: [stories260K]
seeds: [0, 1]
quantize: {method: [none, gptq, loaq], wbits: [2, 3], alpha: [0.2, 0.6]}
)");
  const JobGrid g = expand_grid(e, assets);
  // loaq: 2 bits × 2 alphas × 2 seeds; gptq: alpha does not apply → 2 × 2; none: one job.
  EXPECT_EQ(g.jobs.size(), 8u + 4u + 1u);
  EXPECT_EQ(g.jobs.size() + g.dropped.size(), 3u * 2 * 2 * 2);
  for (const auto& j : g.jobs) {
    if (j.method() != "loaq") {
      EXPECT_EQ(j.get("alpha"), "") << j.label;
    }
    if (j.method() == "none") {
      EXPECT_FALSE(j.seeded);
      EXPECT_EQ(j.get("wbits"), "");
      const auto a = quantize_args(j);
      EXPECT_NE(std::find(a.begin(), a.end(), "none"), a.end()) << "--method none is passed";
    }
    EXPECT_EQ(j.hash.size(), 16u);
  }
  bool saw_alpha_reason = false;
  for (const auto& d : g.dropped)
    saw_alpha_reason |= d.reason.find("alpha does not apply to method gptq") != std::string::npos;
  EXPECT_TRUE(saw_alpha_reason);
  // Hashes are distinct and stable.
  const JobGrid again = expand_grid(e, assets);
  for (size_t i = 0; i < g.jobs.size(); ++i) {
    EXPECT_EQ(g.jobs[i].hash, again.jobs[i].hash);
    for (size_t k = i + 1; k < g.jobs.size(); ++k) EXPECT_NE(g.jobs[i].hash, g.jobs[k].hash);
  }
  // The command line of a job.
  const auto args = quantize_args(g.jobs.back());
  EXPECT_EQ(args[0], "quantize");
}

// The branch's options apply only with a branch, the descent's only with lowrank loaq; an RTN
// job with a data-weighted branch is seeded.
// A grid is bounded before it is expanded: a few lists must not ask for billions of jobs.
TEST(Grid, TooLargeAGridIsRefusedBeforeExpanding) {
  const Experiment e = exp_of(R"(
name: big
models: [a, b, c, d]
seeds: [0, 1, 2, 3, 4, 5, 6, 7]
quantize:
  method: [rtn, gptq, gptaq, qronos, loaq]
  wbits: [2, 3, 4, 5, 6, 7, 8]
  group: [-1, 32, 64, 128, 256]
  alpha: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
  beta: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
)");
  try {
    (void)expand_grid(e, "/nonexistent", true);
    FAIL() << "a grid of 358,400 jobs was expanded";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("e.yaml: the grid has 3.584e+05 jobs"),
              std::string::npos)
        << err.what();
  }
}

// Found by fuzz_experiment: an empty model name (std::filesystem::absolute threw), a name the OS
// refuses (too long for a file name). Errors naming the file, or a missing model with --dry-run.
TEST(Grid, ModelNamesTheFileSystemRefusesAreErrors) {
  try {
    (void)expand_grid(exp_of("name: e\nmodels: [\"\"]\nquantize: {method: rtn}\n"), "/nonexistent",
                      true);
    FAIL() << "an empty model name was accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("e.yaml: models: an empty model name"),
              std::string::npos)
        << err.what();
  }
  const std::string long_name(5000, 'm');
  const auto yaml = "name: e\nmodels: [" + long_name + "]\nquantize: {method: rtn}\n";
  EXPECT_EQ(expand_grid(exp_of(yaml), "/nonexistent", true).jobs.size(), 1u);
  EXPECT_THROW((void)expand_grid(exp_of(yaml), "/nonexistent", false), Error);
}

TEST(Grid, LowRankOptionsApplyOnlyWithABranch) {
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  const auto assets = *test::assets_dir();
  const Experiment e = exp_of(R"(
name: g
models: [stories260K]
seeds: [0, 1]
quantize: {method: rtn, wbits: 2, lowrank: [none, svd, qera, loaq], rank: [8, 32], lowrank-lr: [0.001, 0.01]}
)");
  const JobGrid g = expand_grid(e, assets);
  // none: 1 job (unseeded); svd: 2 ranks (unseeded, data-free); qera: 2 ranks × 2 seeds;
  // loaq: 2 ranks × 2 learning rates (unseeded).
  EXPECT_EQ(g.jobs.size(), 1u + 2u + 4u + 4u);
  for (const auto& j : g.jobs) {
    const std::string lr = j.get("lowrank");
    if (lr.empty() || lr == "none") {
      EXPECT_EQ(j.get("rank"), "") << j.label;
    }
    if (lr != "loaq") {
      EXPECT_EQ(j.get("lowrank-lr"), "") << j.label;
    }
    EXPECT_EQ(j.seeded, lr == "qera") << j.label;
  }
}

TEST(Grid, InvalidCombinationsAreDroppedWithTheReason) {
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  const Experiment e = exp_of(R"(
name: g
models: [stories260K]
quantize: {method: gptq, group: [-1, 32], static-groups: [false, true], mse: true,
           grid: [minmax, neuqi]}
)");
  const JobGrid g = expand_grid(e, *test::assets_dir());
  // Of the 8 combinations, mse with neuqi (4) and static-groups without a group (1 more) drop.
  EXPECT_EQ(g.jobs.size(), 3u);
  int groups = 0, mse = 0;
  for (const auto& d : g.dropped) {
    groups += d.reason == "static-groups needs a group size (group > 0)";
    mse += d.reason == "mse means grid mse; it conflicts with grid neuqi";
  }
  EXPECT_EQ(mse, 4);
  EXPECT_EQ(groups, 1);
  EXPECT_EQ(g.dropped.size(), 5u);
}

TEST(Grid, OnlyFilter) {
  Job j;
  j.model_name = "m";
  j.seed = 1;
  j.hash = "abcdef0123456789";
  j.options = {{"method", "loaq"}, {"wbits", "2"}};
  EXPECT_TRUE(job_matches(j, "method=loaq,wbits=2"));
  EXPECT_TRUE(job_matches(j, "seed=1"));
  EXPECT_FALSE(job_matches(j, "method=loaq,wbits=3"));
  EXPECT_TRUE(job_matches(j, "abcdef"));
}

}  // namespace
}  // namespace loaq::study
