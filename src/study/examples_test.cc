// Every experiment file of examples/paper/ parses and expands into a non-empty job grid whose
// tables and figures name metrics it measures (the paper's models need not be on this machine).
#include <gtest/gtest.h>

#include <filesystem>

#include "study/grid.h"
#include "test_assets.h"

namespace loaq::study {
namespace {

TEST(PaperExamples, EveryExperimentFileIsValid) {
  const std::filesystem::path dir = std::filesystem::path(LOAQ_SOURCE_DIR) / "examples" / "paper";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
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
  EXPECT_GE(n, 18);
}

}  // namespace
}  // namespace loaq::study
