// Every experiment file of examples/paper/ and examples/lowrank/ parses and expands into a
// non-empty job grid whose tables and figures name metrics it measures (the paper's models need not
// be on this machine).
#include <gtest/gtest.h>

#include <filesystem>

#include "study/grid.h"
#include "test_assets.h"

namespace loaq::study {
namespace {

// The experiment files of examples/FOLDER that parse into non-empty grids with a table or figure.
int valid_experiments(const char* folder) {
  const std::filesystem::path dir = std::filesystem::path(LOAQ_SOURCE_DIR) / "examples" / folder;
  EXPECT_TRUE(std::filesystem::is_directory(dir)) << dir;
  if (!std::filesystem::is_directory(dir)) return 0;
  const std::string assets = test::assets_dir().value_or("/nonexistent");
  int n = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() != ".yaml") continue;
    SCOPED_TRACE(f.path().string());
    const Experiment e = load_experiment(f.path().string());
    EXPECT_EQ(e.name, f.path().stem().string()) << "name: should be the file's name";
    const JobGrid g = expand_grid(e, assets, /*allow_missing_models=*/true);
    EXPECT_FALSE(g.jobs.empty());
    EXPECT_TRUE(!e.tables.empty() || !e.figures.empty());
    ++n;
  }
  return n;
}

TEST(PaperExamples, EveryExperimentFileIsValid) {
  EXPECT_GE(valid_experiments("paper"), 18);
}

TEST(LowRankExamples, EveryExperimentFileIsValid) {
  EXPECT_GE(valid_experiments("lowrank"), 4);
}

}  // namespace
}  // namespace loaq::study
