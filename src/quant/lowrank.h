#pragma once
// The low-rank branch of a quantized linear (issue 14): y = Q(W) x + L2 (L1 x), L1 [r, in],
// L2 [out, r], fitted to the quantization error E = W − Q(W) after the main solve (the LQER /
// EoRA order), or to W before it (--lowrank-first, SVDQuant's order: the main method then
// quantizes W − L2 L1). It is a step after (or before) any method's solve, not a method.
//
// The rules are rows of a table (lowrank_rules()): what each needs from the calibration
// statistics and the function that fits it. The branch is then quantized (quant/lowrank_quant.h)
// and applied by model/lowrank_apply.h.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/linalg.h"
#include "core/lowrank_branch.h"
#include "core/tensor.h"
#include "quant/lowrank_descent.h"
#include "quant/lowrank_fit.h"
#include "quant/lowrank_quant.h"
#include "quant/lowrank_svd.h"

namespace loaq {

enum class LowRankRule { kNone, kSvd, kLqer, kQera, kLoaq };

struct LowRankConfig {
  LowRankRule rule = LowRankRule::kNone;  // --lowrank none|svd|lqer|qera|loaq
  int64_t rank = 32;                      // --rank (clamped to min(out, in) per linear)
  bool first = false;                     // --lowrank-first
  int wbits = 16, abits = 16;             // --lowrank-bits w,a
  bool weighted = false;                  // --lowrank-weighted (loaq only)
  int steps = 200;                        // --lowrank-steps
  double lr = 1e-3;                       // --lowrank-lr
  int patience = 50;                      // --lowrank-patience (0: no early stop)
  SvdOptions svd;                         // --lowrank-svd, --lowrank-seed (svd.seed)
  bool enabled() const { return rule != LowRankRule::kNone; }
  // "loaq r=32 w8a8 after steps=100 lr=0.005 ..."; stable, for reports.
  std::string describe() const;
};

// What a rule consumes from the statistics the method already has.
struct LowRankStats {
  const MatD* h = nullptr;           // H = X̂ᵀX̂ [in, in] (a sum or a mean over tokens)
  const QeraBasis* basis = nullptr;  // qera_basis(*h), when the caller shares it between linears
  const std::vector<double>* mean_abs_x = nullptr;  // [in]: mean |x̂| per input channel
};

struct LowRankFitInfo {
  std::string svd;          // the SVD used: full | randomized
  double descent_init = 0;  // loaq: loss of the quantized start and of the result
  double descent_loss = 0;
  int descent_steps = 0;
  int64_t dropped_eigenvalues = 0;  // qera
};

struct LowRankRuleInfo {
  LowRankRule rule;
  const char* name;
  bool needs_h;           // H (qera; loaq with --lowrank-weighted, see needs())
  bool needs_mean_abs_x;  // mean |x| per input channel (lqer)
  bool data_free;
  const char* reference;
  // Fits the full-precision factors; `info` receives rule-specific figures.
  LowRankFactors (*fit)(const Tensor& e, int64_t r, const LowRankConfig& c, const LowRankStats& st,
                        LowRankFitInfo& info);
};

std::span<const LowRankRuleInfo> lowrank_rules();
const LowRankRuleInfo& lowrank_rule_info(LowRankRule r);
// none|svd|lqer|qera|loaq; throws naming --lowrank and the choices.
LowRankRule parse_lowrank_rule(const std::string& s);
// "w,a" (e.g. "8,8", "4,8", "16,16") into c.wbits, c.abits; throws naming --lowrank-bits.
void parse_lowrank_bits(const std::string& s, LowRankConfig& c);
// Throws loaq::Error naming the option for an invalid configuration.
void validate(const LowRankConfig& c);
// Whether fitting with `c` needs H / the mean |x| (the table's flags, plus loaq --weighted).
bool lowrank_needs_h(const LowRankConfig& c);
bool lowrank_needs_mean_abs_x(const LowRankConfig& c);

struct LowRankResult {
  LowRankBranch branch;  // quantized as configured (codes kept)
  int64_t rank = 0;      // after clamping to min(out, in)
  // The objectives with and without the branch, of its quantized (deployed) weights:
  double err_without = 0;                    // ‖E‖²_F
  double err_with = 0;                       // ‖E − B̂‖²_F, B̂ = dequantized L2·L1
  double werr_without = -1, werr_with = -1;  // tr(E H Eᵀ), tr((E − B̂) H (E − B̂)ᵀ); −1 without H
  double seconds = 0;
  LowRankFitInfo info;
};

// Fits and quantizes the branch of one linear. `e` [out, in] is W − Q(W) (or W with first).
// Throws naming the rule when a statistic it needs is missing or has the wrong size.
LowRankResult fit_lowrank(const Tensor& e, const LowRankConfig& c, const LowRankStats& st);

}  // namespace loaq
