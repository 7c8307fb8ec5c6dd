#include "quant/lowrank.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/env.h"
#include "core/error.h"

namespace loaq {

namespace {

SvdOptions svd_for(const LowRankConfig& c, const Tensor& e, int64_t r, LowRankFitInfo& info) {
  info.svd = svd_method_name(resolve_svd_method(c.svd, e.rows(), e.cols(), r));
  return c.svd;
}

const QeraBasis& basis_of(const LowRankStats& st, LowRankFitInfo& info, QeraBasis& own) {
  if (st.basis) {
    info.dropped_eigenvalues = st.basis->dropped;
    return *st.basis;
  }
  own = qera_basis(*st.h);
  info.dropped_eigenvalues = own.dropped;
  return own;
}

LowRankFactors rule_svd(const Tensor& e, int64_t r, const LowRankConfig& c, const LowRankStats&,
                        LowRankFitInfo& info) {
  return fit_svd(e, r, svd_for(c, e, r, info));
}

LowRankFactors rule_lqer(const Tensor& e, int64_t r, const LowRankConfig& c, const LowRankStats& st,
                         LowRankFitInfo& info) {
  return fit_lqer(e, r, *st.mean_abs_x, svd_for(c, e, r, info));
}

LowRankFactors rule_qera(const Tensor& e, int64_t r, const LowRankConfig& c, const LowRankStats& st,
                         LowRankFitInfo& info) {
  QeraBasis own;
  const QeraBasis& b = basis_of(st, info, own);
  return fit_qera(e, r, b, svd_for(c, e, r, info));
}

// Data-free: starts from the svd rule. Weighted (ours): starts from qera, the closed-form
// optimum of the same weighted loss at 16 bits, so that the descent only has the quantizers to
// account for.
LowRankFactors rule_loaq(const Tensor& e, int64_t r, const LowRankConfig& c, const LowRankStats& st,
                         LowRankFitInfo& info) {
  LowRankFactors init = c.weighted ? rule_qera(e, r, c, st, info) : rule_svd(e, r, c, st, info);
  DescentConfig d;
  d.bits = c.wbits;
  d.steps = c.steps;
  d.lr = c.lr;
  d.patience = c.patience;
  DescentResult res = descend_lowrank(e, std::move(init), d, c.weighted ? st.h : nullptr);
  info.descent_init = res.loss_init;
  info.descent_loss = res.loss;
  info.descent_steps = res.steps_run;
  return std::move(res.f);
}

LowRankFactors rule_none(const Tensor&, int64_t, const LowRankConfig&, const LowRankStats&,
                         LowRankFitInfo&) {
  fail("internal error: fitting a branch with --lowrank none");
}

constexpr LowRankRuleInfo kRules[] = {
    {LowRankRule::kNone, "none", false, false, true, "", rule_none},
    {LowRankRule::kSvd, "svd", false, false, true, "ZeroQuant-V2 LoRC (Yao et al. 2023)", rule_svd},
    {LowRankRule::kLqer, "lqer", false, true, false, "LQER (Zhang et al. 2024), lqer_act.py",
     rule_lqer},
    {LowRankRule::kQera, "qera", true, false, false,
     "QERA-exact (Zhang et al. 2025) = EoRA (Liu et al. 2024)", rule_qera},
    {LowRankRule::kLoaq, "loaq", false, false, true,
     "LoRaQ (Bouquet et al. 2026): descent through the branch quantizers", rule_loaq},
};

}  // namespace

std::span<const LowRankRuleInfo> lowrank_rules() {
  return kRules;
}

const LowRankRuleInfo& lowrank_rule_info(LowRankRule r) {
  for (const auto& i : kRules)
    if (i.rule == r) return i;
  fail("internal error: unknown low-rank rule {}", int(r));
}

LowRankRule parse_lowrank_rule(const std::string& s) {
  std::string names;
  for (const auto& i : kRules) {
    if (s == i.name) return i.rule;
    names += names.empty() ? i.name : std::string("|") + i.name;
  }
  fail("--lowrank '{}': expected one of {}", s, names);
}

void parse_lowrank_bits(const std::string& s, LowRankConfig& c) {
  const size_t comma = s.find(',');
  int w = 0, a = 0;
  try {
    size_t p1 = 0, p2 = 0;
    if (comma == std::string::npos) throw std::invalid_argument("no comma");
    w = std::stoi(s.substr(0, comma), &p1);
    a = std::stoi(s.substr(comma + 1), &p2);
    if (p1 != comma || p2 != s.size() - comma - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    fail("--lowrank-bits '{}': expected W,A (e.g. 8,8, 4,8 or 16,16)", s);
  }
  c.wbits = w;
  c.abits = a;
  validate(c);
}

void validate(const LowRankConfig& c) {
  if (c.wbits != 16 && (c.wbits < 2 || c.wbits > 8))
    fail("--lowrank-bits: weight bits {} must be 2..8 or 16", c.wbits);
  if (c.abits < 2 || c.abits > 16)
    fail("--lowrank-bits: activation bits {} must be 2..16", c.abits);
  if (c.rank < 1) fail("--rank {} must be ≥ 1", c.rank);
  if (c.steps < 0) fail("--lowrank-steps {} must be ≥ 0", c.steps);
  if (!(c.lr > 0) || !std::isfinite(c.lr)) fail("--lowrank-lr {} must be > 0", c.lr);
  if (c.patience < 0) fail("--lowrank-patience {} must be ≥ 0", c.patience);
  if (c.weighted && c.rule != LowRankRule::kLoaq)
    fail("--lowrank-weighted applies to --lowrank loaq only (got --lowrank {})",
         lowrank_rule_info(c.rule).name);
  if (c.svd.oversample < 0 || c.svd.power_iters < 0)
    fail("low-rank SVD: oversampling {} and power iterations {} must be ≥ 0", c.svd.oversample,
         c.svd.power_iters);
}

bool lowrank_needs_h(const LowRankConfig& c) {
  return lowrank_rule_info(c.rule).needs_h || (c.rule == LowRankRule::kLoaq && c.weighted);
}

bool lowrank_needs_mean_abs_x(const LowRankConfig& c) {
  return lowrank_rule_info(c.rule).needs_mean_abs_x;
}

std::string LowRankConfig::describe() const {
  std::string s = fmt::format("{} r={} w{}a{} {}", lowrank_rule_info(rule).name, rank, wbits, abits,
                              first ? "first" : "after");
  if (rule == LowRankRule::kLoaq)
    s += fmt::format(" steps={} lr={} patience={}{}", steps, lr, patience,
                     weighted ? " weighted" : "");
  s += fmt::format(" svd={} p={} q={} seed={}", svd_method_name(svd.method), svd.oversample,
                   svd.power_iters, svd.seed);
  return s;
}

LowRankResult fit_lowrank(const Tensor& e, const LowRankConfig& c, const LowRankStats& st) {
  validate(c);
  const LowRankRuleInfo& rule = lowrank_rule_info(c.rule);
  if (!c.enabled()) fail("internal error: fit_lowrank with --lowrank none");
  if (e.ndim() != 2 || e.numel() == 0)
    fail("low-rank fit: the error is {}, not a matrix", shape_str(e.shape));
  const int64_t in = e.cols();
  if (lowrank_needs_h(c)) {
    if (!st.h)
      fail("--lowrank {}{} needs H, which the method did not provide", rule.name,
           c.weighted ? " --lowrank-weighted" : "");
    if (st.h->rows != in || st.h->cols != in)
      fail("--lowrank {}: H is {}×{} for a linear with {} inputs", rule.name, st.h->rows,
           st.h->cols, in);
  }
  if (rule.needs_mean_abs_x && (!st.mean_abs_x || int64_t(st.mean_abs_x->size()) != in))
    fail("--lowrank {} needs the mean |x| of each of the {} inputs", rule.name, in);

  const auto t0 = std::chrono::steady_clock::now();
  // One BLAS thread: the same bits whatever the thread count (core/env.h), so that a run on N
  // ranks fits the branches a single process fits.
  const BlasThreadsScope one_thread(1);
  LowRankResult res;
  res.rank = std::min({c.rank, e.rows(), e.cols()});
  const LowRankFactors f = rule.fit(e, res.rank, c, st, res.info);
  res.branch = quantize_branch(f, c.wbits, c.abits);
  const Tensor l1 = res.branch.l1.dequantize(), l2 = res.branch.l2.dequantize();
  double e2 = 0;
  for (float v : e.data) e2 += double(v) * double(v);
  res.err_without = e2;
  res.err_with = frobenius_error(e, l1, l2);
  if (st.h && st.h->rows == in) {
    const Tensor zero1({1, in}), zero2({e.rows(), 1});
    res.werr_without = weighted_error(e, zero1, zero2, *st.h);
    res.werr_with = weighted_error(e, l1, l2, *st.h);
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace loaq
