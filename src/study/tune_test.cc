#include "study/tune.h"

#include <gtest/gtest.h>

#include <cmath>

namespace loaq::study {
namespace {

// A scorer from a function of (α, β); GPTQ scores `gptq`.
TuneScorer scorer(double gptq, double (*f)(double, double), int* calls) {
  return [=](const std::string& stage, const std::string& method,
             const std::vector<std::pair<double, double>>& pts) {
    std::vector<TuneCandidate> out;
    for (const auto& [a, b] : pts) {
      ++*calls;
      TuneCandidate c;
      c.stage = stage;
      c.method = method;
      c.alpha = a;
      c.beta = b;
      c.ok = true;
      c.score.n = 1;
      c.score.mean = method == "gptq" ? gptq : f(a, b);
      out.push_back(c);
    }
    return out;
  };
}

TEST(Tune, CoarseToFinePicksTheGridMinimumAndCountsTheCost) {
  TuneOptions o;
  int calls = 0;
  // Minimum at α = 0.3, β = 0.15 (both on the refined grids).
  const auto f = [](double a, double b) { return 10 + std::fabs(a - 0.3) + std::fabs(b - 0.15); };
  const TuneResult r = tune_search(o, scorer(100, f, &calls));
  EXPECT_EQ(r.candidates.front().method, "gptq");  // GPTQ is always a candidate
  EXPECT_EQ(r.best.method, "loaq");
  EXPECT_NEAR(r.best.alpha, 0.3, 1e-9);
  EXPECT_NEAR(r.best.beta, 0.15, 1e-9);
  // 1 GPTQ + 6 α + 2 α-fine + 5 β (β = 0 done) + 2 + 2 β-fine: 18 points, none scored twice.
  EXPECT_EQ(calls, 18);
  EXPECT_EQ(int(r.candidates.size()), calls);
  for (const auto& c : r.candidates) {
    EXPECT_GE(c.alpha, 0);
    EXPECT_LE(c.alpha, 1);
    EXPECT_GE(c.beta, 0);
    EXPECT_LE(c.beta, 1);
  }
}

TEST(Tune, GptqWinsWhenNoLoaqPointBeatsIt) {
  TuneOptions o;
  o.refine = false;
  o.alpha_step = 0.1;
  o.beta_step = 0.05;
  int calls = 0;
  const TuneResult r = tune_search(o, scorer(
                                          5, [](double, double) { return 6.0; }, &calls));
  EXPECT_EQ(r.best.method, "gptq");
  EXPECT_EQ(calls, 1 + 11 + 20);  // the paper's grid: 11 α, then 21 β of which β = 0 is done
}

}  // namespace
}  // namespace loaq::study
