#include "study/figure.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "study/subprocess.h"

namespace loaq::study {
namespace {

ResultSet sweep() {
  ResultSet rs;
  auto add = [&](const std::string& method, const std::string& alpha, const std::string& seed,
                 double ppl) {
    ResultRow r;
    r.settings = {{"method", method}, {"seed", seed}};
    if (!alpha.empty()) r.settings["alpha"] = alpha;
    r.metrics = {{"wikitext2", ppl}};
    r.result.status = "ok";
    rs.rows.push_back(r);
  };
  add("gptq", "", "0", 20.0);
  add("gptq", "", "1", 22.0);
  for (auto [a, p] : {std::pair{"0", 21.0}, {"0.5", 18.0}, {"1", 19.0}}) {
    add("loaq", a, "0", p);
    add("loaq", a, "1", p + 2.0);
  }
  return rs;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Traced runs: metrics trace_mse.K per sub-layer K (2·layer + 1 for the MLP), two seeds each.
ResultSet traced() {
  ResultSet rs;
  for (const std::string method : {"gptq", "loaq"})
    for (const std::string seed : {"0", "1"}) {
      ResultRow r;
      r.settings = {{"method", method}, {"seed", seed}};
      const double off = (method == "loaq" ? 0.0 : 1.0) + (seed == "1" ? 0.002 : 0.0);
      for (int k = 0; k < 4; ++k) r.metrics["trace_mse." + std::to_string(k)] = 0.001 * k + off;
      r.metrics["wikitext2"] = 10;
      r.result.status = "ok";
      rs.rows.push_back(r);
    }
  return rs;
}

TEST(Figure, TracedMetricAgainstSublayerAndLayer) {
  FigureSpec spec;
  spec.name = "fig3";
  spec.x = "sublayer";
  spec.y = "trace_mse";
  const FigureData f = build_figure(spec, traced());
  ASSERT_EQ(f.series.size(), 2u);
  EXPECT_EQ(f.series[0].name, "GPTQ");
  EXPECT_EQ(f.series[1].x, (std::vector<double>{0, 1, 2, 3}));
  EXPECT_NEAR(f.series[1].y[3].mean, 0.004, 1e-12);  // (0.003 + 0.005) / 2
  EXPECT_EQ(f.series[1].y[3].n, 2);
  EXPECT_FALSE(f.has_reference);
  const std::string md = figure_markdown(f);
  EXPECT_NE(md.find("| 3 | 1.004 ± 0.0014 | 0.004 ± 0.0014 |"), std::string::npos) << md;
  spec.x = "layer";  // the decoder layers' outputs: the MLP rows 1 and 3, at x = 0 and 1
  const FigureData g = build_figure(spec, traced());
  EXPECT_EQ(g.series[1].x, (std::vector<double>{0, 1}));
  EXPECT_NEAR(g.series[1].y[0].mean, 0.002, 1e-12);
  EXPECT_NEAR(g.series[1].y[1].mean, 0.004, 1e-12);
}

TEST(Figure, DataFileHoldsTheSeriesAndTheReference) {
  FigureSpec spec;
  spec.name = "fig2";
  spec.x = "alpha";
  const FigureData f = build_figure(spec, sweep());
  ASSERT_EQ(f.series.size(), 1u);
  EXPECT_EQ(f.series[0].name, "LoaQ");
  EXPECT_EQ(f.series[0].x, (std::vector<double>{0, 0.5, 1}));
  EXPECT_DOUBLE_EQ(f.series[0].y[1].mean, 19.0);
  EXPECT_TRUE(f.has_reference);
  EXPECT_DOUBLE_EQ(f.reference.mean, 21.0);
  const std::string dat = figure_data_file(f);
  EXPECT_NE(dat.find("# reference GPTQ 21 1.414213562 2\n"), std::string::npos) << dat;
  EXPECT_NE(dat.find("# series LoaQ\n0 22 1.414213562 2\n0.5 19 1.414213562 2\n1 20 "),
            std::string::npos)
      << dat;

  const std::string md = figure_markdown(f);
  EXPECT_NE(md.find("| 0.5 | 19.00 ± 1.41 | 21.00 ± 1.41 |"), std::string::npos) << md;
  const auto dir = std::filesystem::temp_directory_path() / "loaq_figure_test";
  std::filesystem::remove_all(dir);
  const FigureFiles ff = write_figure(f, dir.string());
  EXPECT_EQ(slurp(ff.data), dat);
  EXPECT_NE(slurp(ff.script).find("set terminal svg"), std::string::npos);
  if (find_on_path("gnuplot").empty()) {
    EXPECT_FALSE(ff.drawn);
    EXPECT_NE(ff.message.find("gnuplot is not installed"), std::string::npos);
    GTEST_SKIP() << "gnuplot not installed: script and data checked only";
  }
  ASSERT_TRUE(ff.drawn) << ff.message;
  const std::string svg = slurp(ff.svg);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("LoaQ"), std::string::npos);
  EXPECT_NE(svg.find("GPTQ"), std::string::npos);
  const std::string png = slurp(ff.png);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace loaq::study
