#pragma once
// Automatic α/β for LoaQ (`loaq bench tune`): the paper's search (appendix C.2: α first with β = 0,
// then β at the best α) made coarse to fine, scored by the perplexity of held-out C4-train windows
// (calibration from the first 937 C4-train documents, `c4-head`; the score on the remaining ones,
// `c4-heldout`), never a test set. GPTQ (α = β = 0 and no LoaQ terms) is always a candidate, so
// the choice is never worse than GPTQ on the held-out score. Every candidate is a job of the
// study runner (its folder reused when the same point comes up again or the tune is rerun).
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "study/runner.h"
#include "study/stats.h"

namespace loaq::study {

struct TuneOptions {
  std::string model;  // a name under $LOAQ_ASSETS/models or a path
  int wbits = 2;
  std::vector<uint64_t> seeds{0};
  int nsamples = 128, seqlen = 256;
  int heldout_windows = 0;                                 // 0: every held-out window
  std::vector<std::pair<std::string, std::string>> extra;  // other quantize options (group, ...)
  // The grids: α over 0…1 in alpha_step (β = 0), then β over 0…1 in beta_step at the best α;
  // with refine, the best α ± alpha_step/2, then the best β ± beta_step/2 and ± beta_step/4.
  // The paper's grid: 0.1 and 0.05 without refinement.
  double alpha_step = 0.2, beta_step = 0.2;
  bool refine = true;
  RunOptions run;
};

struct TuneCandidate {
  std::string stage, method;  // stage: gptq, alpha, alpha-fine, beta, beta-fine
  double alpha = 0, beta = 0;
  Stat score;  // held-out perplexity over the seeds
  bool ok = false;
};

struct TuneResult {
  std::vector<TuneCandidate> candidates;
  TuneCandidate best;
  int jobs = 0, jobs_run = 0;  // candidate jobs, and those run now (others were done before)
  double job_seconds = 0;      // wall time of every candidate job (quantize + eval)
  int paper_points = 32;       // LoaQ points of the paper's grid (11 α + 21 β)
};

TuneResult tune_alpha_beta(const TuneOptions& o, const std::string& assets);

// The search itself, given the scorer of a stage's points ((α, β) for LoaQ, one point for GPTQ):
// it returns the candidates with their scores (a candidate whose jobs failed has ok = false).
using TuneScorer =
    std::function<std::vector<TuneCandidate>(const std::string& stage, const std::string& method,
                                             const std::vector<std::pair<double, double>>& points)>;
TuneResult tune_search(const TuneOptions& o, const TuneScorer& score);
// The candidates and the choice as a Markdown table.
std::string tune_markdown(const TuneResult& r);

}  // namespace loaq::study
