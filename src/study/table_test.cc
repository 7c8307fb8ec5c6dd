#include "study/table.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "core/error.h"

namespace loaq::study {
namespace {

ResultRow row(const std::string& method, const std::string& seed, const std::string& rotate,
              double wiki, double acc) {
  ResultRow r;
  r.settings = {{"model", "m"}, {"method", method}, {"seed", seed}, {"rotate", rotate}};
  r.metrics = {{"wikitext2", wiki}, {"acc", acc}};
  r.result.status = "ok";
  return r;
}

ResultSet results() {
  ResultSet rs;
  rs.setting_keys = {"model", "method", "seed", "rotate"};
  // GPTQ no transform: 10, 12, 14 → 12 ± 2; LoaQ: 11, 11.5, 12 → 11.5 ± 0.5.
  // Hadamard: GPTQ 9, 9, 9 → 9 ± 0 (ties LoaQ's mean; smaller sd wins); LoaQ 8.5, 9.5 → 9 ± 0.71.
  for (auto [s, g, l] : {std::tuple{"0", 10.0, 11.0}, {"1", 12.0, 11.5}, {"2", 14.0, 12.0}}) {
    rs.rows.push_back(row("gptq", s, "none", g, 30.0));
    rs.rows.push_back(row("loaq", s, "none", l, 31.0 + std::stod(s)));
  }
  for (auto [s, l] : {std::pair{"0", 8.5}, {"1", 9.5}}) {
    rs.rows.push_back(row("gptq", s, "hadamard", 9.0, 30.0));
    rs.rows.push_back(row("loaq", s, "hadamard", l, 30.0));
  }
  rs.rows.push_back(row("gptq", "2", "hadamard", 9.0, 30.0));
  ResultRow failed = row("loaq", "2", "hadamard", 1.0, 99.0);
  failed.result.status = "failed";
  rs.rows.push_back(failed);
  return rs;
}

TEST(Table, MeanSdBoldAndTies) {
  TableSpec spec;
  spec.name = "t";
  spec.title = "T";
  spec.rows = "method";
  spec.sections = "model";
  spec.side_by_side = "rotate";
  spec.columns = {"wikitext2", "acc"};
  const Table t = build_table(spec, results());
  ASSERT_EQ(t.blocks.size(), 1u);
  const auto& b = t.blocks[0];
  ASSERT_EQ(b.rows, (std::vector<std::string>{"GPTQ", "LoaQ"}));
  EXPECT_EQ(t.groups, (std::vector<std::string>{"No transform", "Hadamard"}));
  // [row][group * 2 + column]
  EXPECT_DOUBLE_EQ(b.cells[0][0].stat.mean, 12.0);
  EXPECT_DOUBLE_EQ(b.cells[0][0].stat.sd, 2.0);
  EXPECT_DOUBLE_EQ(b.cells[1][0].stat.mean, 11.5);
  EXPECT_DOUBLE_EQ(b.cells[1][0].stat.sd, 0.5);
  EXPECT_FALSE(b.cells[0][0].bold);
  EXPECT_TRUE(b.cells[1][0].bold);  // lower perplexity
  EXPECT_DOUBLE_EQ(b.cells[1][1].stat.mean, 32.0);
  EXPECT_DOUBLE_EQ(b.cells[1][1].stat.sd, 1.0);
  EXPECT_TRUE(b.cells[1][1].bold);  // higher accuracy
  // Hadamard: equal means 9.00, GPTQ's sd 0 beats LoaQ's 0.71; the failed LoaQ run is left out.
  EXPECT_EQ(b.cells[1][2].stat.n, 2);
  EXPECT_NEAR(b.cells[1][2].stat.sd, 0.70710678, 1e-8);
  EXPECT_TRUE(b.cells[0][2].bold);
  EXPECT_FALSE(b.cells[1][2].bold);
  // Equal mean and sd: both bold.
  EXPECT_TRUE(b.cells[0][3].bold);
  EXPECT_TRUE(b.cells[1][3].bold);
  const std::string md = table_markdown(t);
  EXPECT_NE(md.find("| GPTQ | 12.00 ± 2.00 | 30.00 ± 0.00 | **9.00 ± 0.00** | **30.00 ± 0.00** |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| LoaQ | **11.50 ± 0.50** | **32.00 ± 1.00** | 9.00 ± 0.71 (n=2) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("1 failed job(s) left out"), std::string::npos);
  const std::string tex = table_latex(t);
  EXPECT_NE(tex.find("\\textbf{11.50 $\\pm$ 0.50}"), std::string::npos) << tex;
  EXPECT_NE(tex.find("\\multicolumn{2}{c}{Hadamard}"), std::string::npos) << tex;
}

TEST(Table, AblationRowsAndMixedCellsRefused) {
  ResultSet rs;
  rs.setting_keys = {"method", "no-soa", "no-noa", "wbits"};
  // In grid order (no-noa the faster axis); the table puts them in the paper's order.
  for (auto [soa, noa] : {std::pair{"", ""}, {"", "true"}, {"true", ""}, {"true", "true"}}) {
    ResultRow r;
    r.settings = {{"method", "loaq"}, {"wbits", "2"}};
    if (*soa) r.settings["no-soa"] = soa;
    if (*noa) r.settings["no-noa"] = noa;
    r.metrics = {{"c4", 1.0}};
    r.result.status = "ok";
    rs.rows.push_back(r);
  }
  TableSpec spec;
  spec.name = "t5";
  spec.rows = "ablation";
  spec.columns = {"c4"};
  const Table t = build_table(spec, rs);
  EXPECT_EQ(t.blocks[0].rows, (std::vector<std::string>{"LoaQ", "−SOA", "−NOA", "−both"}));
  rs.rows[2].settings["wbits"] = "3";
  spec.rows = "method";  // now one cell holds runs with different settings
  try {
    build_table(spec, rs);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("table t5: the cell"), std::string::npos) << e.what();
  }
}

// rows: branch, derived from lowrank, rank and lowrank-bits: one row per rule, rank and precision,
// no branch first as in the grid.
TEST(Table, BranchRowsFromRuleRankAndBits) {
  ResultSet rs;
  rs.setting_keys = {"method", "lowrank", "rank", "lowrank-bits", "seed"};
  const std::vector<std::map<std::string, std::string>> branches = {
      {{"lowrank", "none"}},
      {{"lowrank", "svd"}, {"rank", "8"}, {"lowrank-bits", "16,16"}},
      {{"lowrank", "svd"}, {"rank", "32"}, {"lowrank-bits", "16,16"}},
      {{"lowrank", "loaq"}, {"rank", "32"}, {"lowrank-bits", "8,8"}},
      {{"lowrank", "loaq"}, {"rank", "32"}, {"lowrank-bits", "4,8"}}};
  for (size_t b = 0; b < branches.size(); ++b)
    for (const char* seed : {"0", "1"}) {
      ResultRow r;
      r.settings = branches[b];
      r.settings["method"] = "gptq";
      r.settings["seed"] = seed;
      r.metrics = {{"c4", 100.0 - double(b) - (seed[0] - '0')}};
      r.result.status = "ok";
      rs.rows.push_back(r);
    }
  TableSpec spec;
  spec.name = "lr";
  spec.rows = "branch";
  spec.columns = {"c4"};
  const Table t = build_table(spec, rs);
  ASSERT_EQ(t.blocks.size(), 1u);
  EXPECT_EQ(t.blocks[0].rows, (std::vector<std::string>{"no branch", "svd r=8", "svd r=32",
                                                        "loaq r=32 W8A8", "loaq r=32 W4A8"}));
  EXPECT_DOUBLE_EQ(t.blocks[0].cells[3][0].stat.mean, 96.5);
  EXPECT_TRUE(t.blocks[0].cells[4][0].bold);
}

}  // namespace
}  // namespace loaq::study
