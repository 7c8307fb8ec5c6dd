// The low-rank branch's fitting rules against closed forms and brute force (issue 14):
// Eckart–Young for svd (error² = the tail singular values²), the weighted optimum for qera (and a
// brute-force search on tiny problems), lqer's scaled optimum, the randomized range finder against
// gesdd, the branch quantizer, and the loaq descent never ending above its start.
#include "quant/lowrank.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "core/error.h"

namespace loaq {
namespace {

Tensor randn(int64_t r, int64_t c, std::mt19937& g, float sd = 1.0f) {
  Tensor t({r, c});
  std::normal_distribution<float> d(0.0f, sd);
  for (auto& x : t.data) x = d(g);
  return t;
}

std::vector<double> singular_values(const Tensor& e) {
  return svd_full(to_matd(e), std::min(e.rows(), e.cols())).s;
}

double tail2(const std::vector<double>& s, int64_t r) {
  double t = 0;
  for (size_t i = size_t(r); i < s.size(); ++i) t += s[i] * s[i];
  return t;
}

// H = XᵀX of T tokens with correlated, unevenly scaled channels.
MatD make_h(int64_t n, int64_t tokens, std::mt19937& g) {
  const Tensor z = randn(tokens, n, g), mix = randn(n, n, g, 0.5f);
  Tensor x({tokens, n});
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < n; ++j) {
      float v = z.data[size_t(t * n + j)] * (1.0f + float(j % 4));
      for (int64_t k = 0; k < n; ++k) v += z.data[size_t(t * n + k)] * mix.data[size_t(k * n + j)];
      x.data[size_t(t * n + j)] = v;
    }
  MatD h(n, n);
  add_gram(h, x.ptr(), tokens, n);
  return h;
}

SvdOptions full_svd() {
  SvdOptions o;
  o.method = SvdMethod::kFull;
  return o;
}

TEST(LowRankSvd, IsTheEckartYoungOptimum) {
  std::mt19937 g(1);
  for (auto [m, n] : {std::pair<int64_t, int64_t>{40, 60}, {60, 40}, {33, 33}}) {
    const Tensor e = randn(m, n, g);
    const auto s = singular_values(e);
    for (int64_t r : {int64_t(1), int64_t(5), int64_t(17)}) {
      const LowRankFactors f = fit_svd(e, r, full_svd());
      ASSERT_EQ(f.l1.shape, (std::vector<int64_t>{r, n}));
      ASSERT_EQ(f.l2.shape, (std::vector<int64_t>{m, r}));
      EXPECT_NEAR(frobenius_error(e, f.l1, f.l2), tail2(s, r), 1e-5 * tail2(s, 0))
          << m << "x" << n << " r=" << r;
      // Balanced split: column j of L2 and row j of L1 both have norm σ_j^½.
      for (int64_t j = 0; j < r; ++j) {
        double c2 = 0, r1 = 0;
        for (int64_t i = 0; i < m; ++i) c2 += std::pow(f.l2.data[size_t(i * r + j)], 2);
        for (int64_t i = 0; i < n; ++i) r1 += std::pow(f.l1.data[size_t(j * n + i)], 2);
        EXPECT_NEAR(c2, s[size_t(j)], 1e-4 * s[size_t(j)]);
        EXPECT_NEAR(r1, s[size_t(j)], 1e-4 * s[size_t(j)]);
      }
    }
  }
  // Full rank reproduces E.
  const Tensor e = randn(7, 9, g);
  const LowRankFactors f = fit_svd(e, 7, full_svd());
  EXPECT_LT(frobenius_error(e, f.l1, f.l2), 1e-9 * tail2(singular_values(e), 0));
}

TEST(LowRankSvd, RandomizedMatchesFull) {
  std::mt19937 g(2);
  const int64_t m = 300, n = 500, r = 10;
  // A decaying spectrum (σ_i = 0.85^i) plus a little noise: the range finder is near exact.
  const Tensor a = randn(m, 40, g), b = randn(40, n, g);
  Tensor e({m, n});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double v = 0;
      for (int64_t k = 0; k < 40; ++k)
        v += std::pow(0.85, double(k)) * a.data[size_t(i * 40 + k)] * b.data[size_t(k * n + j)];
      e.data[size_t(i * n + j)] = float(v);
    }
  const Tensor noise = randn(m, n, g, 1e-3f);
  for (size_t i = 0; i < e.data.size(); ++i) e.data[i] += noise.data[i];
  const TruncatedSvd full = svd_full(to_matd(e), r);
  const TruncatedSvd rnd = svd_randomized(to_matd(e), r, 10, 2, 7);
  for (int64_t j = 0; j < r; ++j)
    EXPECT_NEAR(rnd.s[size_t(j)], full.s[size_t(j)], 1e-6 * full.s[0]) << j;
  SvdOptions ro;
  ro.method = SvdMethod::kRandomized;
  const auto s = singular_values(e);
  const LowRankFactors fr = fit_svd(e, r, ro);
  EXPECT_NEAR(frobenius_error(e, fr.l1, fr.l2), tail2(s, r), 1e-4 * tail2(s, r));
  // Deterministic for a seed.
  const TruncatedSvd again = svd_randomized(to_matd(e), r, 10, 2, 7);
  EXPECT_EQ(again.s, rnd.s);
  EXPECT_EQ(again.u.data, rnd.u.data);

  // A flat (Gaussian) spectrum, like a quantization error: the hardest case for the range
  // finder. With p = 10 and q = 2 it captures about 91% of the optimum's energy (measured: 12847
  // of 14090 here); the error ‖E − B‖² is then 1.1% above the optimum.
  const Tensor flat = randn(m, n, g);
  const auto sf = singular_values(flat);
  const TruncatedSvd rf = svd_randomized(to_matd(flat), r, 10, 2, 3);
  double cap = 0, opt = 0;
  for (int64_t j = 0; j < r; ++j) {
    cap += rf.s[size_t(j)] * rf.s[size_t(j)];
    opt += sf[size_t(j)] * sf[size_t(j)];
    EXPECT_LE(rf.s[size_t(j)], sf[size_t(j)] * (1 + 1e-9));  // interlacing: never above σ_j
  }
  EXPECT_GT(cap, 0.88 * opt);
  EXPECT_LT(cap, opt * (1 + 1e-9));
  const double total = tail2(sf, 0);
  EXPECT_LT(total - cap, 1.02 * (total - opt));
}

TEST(LowRankSvd, AutoPicksRandomizedOnlyForLargeShapes) {
  SvdOptions o;
  EXPECT_EQ(resolve_svd_method(o, 4096, 14336, 32), SvdMethod::kRandomized);
  EXPECT_EQ(resolve_svd_method(o, 512, 512, 32), SvdMethod::kFull);
  EXPECT_EQ(resolve_svd_method(o, 2048, 2048, 600), SvdMethod::kFull);
  o.method = SvdMethod::kFull;
  EXPECT_EQ(resolve_svd_method(o, 4096, 14336, 32), SvdMethod::kFull);
}

TEST(LowRankQera, MinimisesTheWeightedObjective) {
  std::mt19937 g(3);
  const int64_t out = 24, in = 16;
  const Tensor e = randn(out, in, g);
  const MatD h = make_h(in, 400, g);
  const QeraBasis basis = qera_basis(h);
  EXPECT_EQ(basis.dropped, 0);
  // The closed form: the weighted error is the tail of the singular values of E P.
  MatD ep = matmul(to_matd(e), false, basis.q, false);
  for (int64_t i = 0; i < out; ++i)
    for (int64_t j = 0; j < in; ++j) ep(i, j) *= std::sqrt(basis.lambda[size_t(j)]);
  const auto sp = svd_full(ep, in).s;
  for (int64_t r : {int64_t(1), int64_t(4), int64_t(9)}) {
    const LowRankFactors q = fit_qera(e, r, basis, full_svd());
    const LowRankFactors s = fit_svd(e, r, full_svd());
    const double wq = weighted_error(e, q.l1, q.l2, h), ws = weighted_error(e, s.l1, s.l2, h);
    EXPECT_NEAR(wq, tail2(sp, r), 1e-4 * tail2(sp, 0)) << r;
    EXPECT_LT(wq, ws * 0.98) << r;  // strictly better than the unweighted SVD on this H
    // And svd stays the better one on the unweighted objective.
    EXPECT_LE(frobenius_error(e, s.l1, s.l2), frobenius_error(e, q.l1, q.l2) * (1 + 1e-6));
  }
  // H a sum or a mean: the same branch.
  MatD hm = h;
  for (double& v : hm.data) v /= 400.0;
  const LowRankFactors a = fit_qera(e, 4, basis, full_svd()),
                       b = fit_qera(e, 4, qera_basis(hm), full_svd());
  for (size_t i = 0; i < a.l1.data.size(); ++i)  // up to the sign of each singular pair
    EXPECT_NEAR(std::abs(a.l1.data[i]), std::abs(b.l1.data[i]), 1e-4);
  for (size_t i = 0; i < a.l2.data.size(); ++i)
    EXPECT_NEAR(std::abs(a.l2.data[i]), std::abs(b.l2.data[i]), 1e-4);
}

// Brute force over rank-1 branches of a tiny problem: for each direction L1 = u on a fine grid of
// the unit circle (in = 2) or sphere (in = 3), the best L2 is the weighted least-squares solution
// L2 = E H uᵀ / (u H uᵀ); the minimum over the grid is the optimum, which qera must match.
double brute_force_rank1(const Tensor& e, const MatD& h, int grid) {
  const int64_t out = e.rows(), in = e.cols();
  auto objective = [&](const std::vector<double>& u) {
    // tr((E − L2 u) H (E − L2 u)ᵀ) with L2 = E H uᵀ/(u H uᵀ) = tr(E H Eᵀ) − |E H uᵀ|²/(u H uᵀ).
    std::vector<double> hu(size_t(in), 0.0);
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < in; ++j) hu[size_t(i)] += h(i, j) * u[size_t(j)];
    double uhu = 0;
    for (int64_t i = 0; i < in; ++i) uhu += u[size_t(i)] * hu[size_t(i)];
    double ehe = 0, gain = 0;
    for (int64_t o = 0; o < out; ++o) {
      double ehu = 0;
      for (int64_t i = 0; i < in; ++i) {
        ehu += e.data[size_t(o * in + i)] * hu[size_t(i)];
        for (int64_t j = 0; j < in; ++j)
          ehe += e.data[size_t(o * in + i)] * h(i, j) * e.data[size_t(o * in + j)];
      }
      gain += ehu * ehu;
    }
    return ehe - gain / uhu;
  };
  double best = INFINITY;
  const double pi = std::numbers::pi;
  if (in == 2) {
    for (int k = 0; k < grid; ++k) {
      const double t = pi * k / grid;
      best = std::min(best, objective({std::cos(t), std::sin(t)}));
    }
  } else {
    for (int a = 0; a < grid; ++a)
      for (int b = 0; b < grid; ++b) {
        const double t = pi * a / grid, p = 2 * pi * b / grid;
        best = std::min(
            best, objective({std::sin(t) * std::cos(p), std::sin(t) * std::sin(p), std::cos(t)}));
      }
  }
  return best;
}

TEST(LowRankQera, EqualsBruteForceOnTinyProblems) {
  std::mt19937 g(4);
  for (int64_t in : {int64_t(2), int64_t(3)}) {
    for (int trial = 0; trial < 3; ++trial) {
      const Tensor e = randn(3, in, g);
      const MatD h = make_h(in, 50, g);
      const LowRankFactors q = fit_qera(e, 1, qera_basis(h), full_svd());
      const double wq = weighted_error(e, q.l1, q.l2, h);
      const double bf = brute_force_rank1(e, h, in == 2 ? 200000 : 700);
      EXPECT_LE(wq, bf * (1 + 1e-5)) << "in=" << in;  // qera is never beaten by the search
      EXPECT_GE(wq, bf * (1 - 1e-3)) << "in=" << in;  // and the search reaches it (grid limit)
      const LowRankFactors s = fit_svd(e, 1, full_svd());
      EXPECT_LE(wq, weighted_error(e, s.l1, s.l2, h) * (1 + 1e-6));
    }
  }
}

TEST(LowRankQera, DropsNullEigenvaluesOfASingularH) {
  std::mt19937 g(5);
  const int64_t out = 10, in = 12;
  const Tensor e = randn(out, in, g);
  // H of 7 tokens, summed in fp64: rank 7 exactly.
  const Tensor x = randn(7, in, g);
  MatD h(in, in);
  for (int64_t t = 0; t < 7; ++t)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < in; ++j)
        h(i, j) += double(x.data[size_t(t * in + i)]) * double(x.data[size_t(t * in + j)]);
  const QeraBasis basis = qera_basis(h);
  EXPECT_EQ(basis.dropped, in - 7);
  const LowRankFactors q = fit_qera(e, 3, basis, full_svd()), s = fit_svd(e, 3, full_svd());
  EXPECT_TRUE(std::isfinite(q.l1.data[0]));
  EXPECT_LT(weighted_error(e, q.l1, q.l2, h), weighted_error(e, s.l1, s.l2, h));
  EXPECT_THROW(fit_qera(e, 8, basis, full_svd()), Error);  // rank above that of H
}

TEST(LowRankLqer, IsTheOptimumOfTheScaledError) {
  std::mt19937 g(6);
  const int64_t out = 20, in = 14, r = 4;
  const Tensor e = randn(out, in, g);
  std::vector<double> s(static_cast<size_t>(in));
  for (int64_t i = 0; i < in; ++i) s[size_t(i)] = 0.2 + 0.3 * double(i);
  // ‖(E − B) diag(s)‖² is the tail of the singular values of E diag(s).
  Tensor es = e;
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) es.data[size_t(o * in + i)] *= float(s[size_t(i)]);
  const auto sv = singular_values(es);
  MatD hs(in, in);  // diag(s²): tr(D diag(s²) Dᵀ) = ‖D diag(s)‖²
  for (int64_t i = 0; i < in; ++i) hs(i, i) = s[size_t(i)] * s[size_t(i)];
  const LowRankFactors f = fit_lqer(e, r, s, full_svd()), v = fit_svd(e, r, full_svd());
  EXPECT_NEAR(weighted_error(e, f.l1, f.l2, hs), tail2(sv, r), 1e-4 * tail2(sv, 0));
  EXPECT_LT(weighted_error(e, f.l1, f.l2, hs), weighted_error(e, v.l1, v.l2, hs));
  // The reference's split: Σ on L2 (L1 rows are V_rᵀ diag(s)⁻¹, so L1 diag(s) is orthonormal).
  for (int64_t a = 0; a < r; ++a) {
    double n2 = 0;
    for (int64_t i = 0; i < in; ++i)
      n2 += std::pow(f.l1.data[size_t(a * in + i)] * s[size_t(i)], 2);
    EXPECT_NEAR(n2, 1.0, 1e-5);
  }
  EXPECT_THROW(fit_lqer(e, r, std::vector<double>(size_t(in), 0.0), full_svd()), Error);
}

TEST(LowRankQuant, RowsAreSymmetricRtnWithCodesKept) {
  std::mt19937 g(7);
  Tensor m = randn(5, 37, g);
  for (int64_t c = 0; c < 37; ++c) m.data[size_t(2 * 37 + c)] = 0.0f;  // a zero row
  for (int bits : {2, 3, 4, 6, 8}) {
    const RowQuantMatrix q = quantize_rows(m, bits);
    const int qmax = (1 << (bits - 1)) - 1;
    ASSERT_EQ(q.qmax(), qmax);
    const Tensor d = q.dequantize();
    Tensor fq({5, 37});
    fake_quantize_rows(m.ptr(), fq.ptr(), 5, 37, bits);
    EXPECT_EQ(fq.data, d.data) << bits;  // the descent's quantizer is the stored one
    for (int64_t r = 0; r < 5; ++r) {
      float amax = 0;
      for (int64_t c = 0; c < 37; ++c) amax = std::max(amax, std::abs(m.data[size_t(r * 37 + c)]));
      EXPECT_FLOAT_EQ(q.scale[size_t(r)], amax / float(qmax));
      bool hit = false;
      for (int64_t c = 0; c < 37; ++c) {
        const size_t i = size_t(r * 37 + c);
        EXPECT_LE(std::abs(int(q.codes[i])), qmax);
        EXPECT_LE(std::abs(d.data[i] - m.data[i]), 0.5f * q.scale[size_t(r)] * (1 + 1e-6f));
        hit |= std::abs(int(q.codes[i])) == qmax;
      }
      EXPECT_EQ(hit, r != 2);  // the row's largest entry takes the extreme code
    }
    EXPECT_EQ(q.bytes(), (5 * 37 * bits + 7) / 8 + 2 * 5);
  }
  const RowQuantMatrix f = quantize_rows(m, 16);
  EXPECT_EQ(f.dequantize().data, m.data);
  EXPECT_THROW(quantize_rows(m, 9), Error);
  EXPECT_THROW(quantize_rows(m, 1), Error);
}

// The descent's result, re-evaluated independently: quantize it as stored and take the error.
double quantized_loss(const Tensor& e, const LowRankFactors& f, int bits, const MatD* h) {
  const LowRankBranch b = quantize_branch(f, bits, 16);
  const Tensor l1 = b.l1.dequantize(), l2 = b.l2.dequantize();
  return h ? weighted_error(e, l1, l2, *h) : frobenius_error(e, l1, l2);
}

TEST(LowRankDescent, NeverEndsAboveItsStartAndImprovesQuantizedBranches) {
  std::mt19937 g(8);
  const int64_t out = 48, in = 40, r = 6;
  const Tensor e = randn(out, in, g, 0.01f);
  const MatD h = make_h(in, 300, g);
  for (const bool weighted : {false, true})
    for (int bits : {2, 3, 4, 8, 16}) {
      const LowRankFactors init =
          weighted ? fit_qera(e, r, qera_basis(h), full_svd()) : fit_svd(e, r, full_svd());
      DescentConfig c;  // the defaults
      c.bits = bits;
      const MatD* hp = weighted ? &h : nullptr;
      const DescentResult d = descend_lowrank(e, init, c, hp);
      const double start = quantized_loss(e, init, bits, hp);
      EXPECT_NEAR(d.loss_init, start, 1e-5 * start) << bits << " " << weighted;
      EXPECT_LE(d.loss, d.loss_init) << bits << " " << weighted;
      EXPECT_NEAR(quantized_loss(e, d.f, bits, hp), d.loss, 1e-5 * d.loss);
      if (bits <= 4) {  // the quantizers leave room: the descent must find some of it
        EXPECT_LT(d.loss, d.loss_init) << bits << " " << weighted;
        EXPECT_GT(d.best_step, 0);
      }
      if (bits == 16 && !weighted) {
        EXPECT_EQ(d.steps_run, 0);  // the SVD is already optimal
      }
    }
  // A step size so large the descent diverges: the start is returned.
  DescentConfig wild;
  wild.bits = 4;
  wild.lr = 50;
  wild.steps = 30;
  wild.patience = 0;
  const LowRankFactors init = fit_svd(e, r, full_svd());
  const DescentResult d = descend_lowrank(e, init, wild);
  EXPECT_LE(d.loss, d.loss_init);
  EXPECT_EQ(d.steps_run, 30);
}

TEST(LowRankRules, TableDrivesTheRequirements) {
  EXPECT_EQ(lowrank_rules().size(), 5u);
  for (const auto& r : lowrank_rules()) EXPECT_EQ(parse_lowrank_rule(r.name), r.rule);
  EXPECT_THROW(parse_lowrank_rule("eora"), Error);
  LowRankConfig c;
  c.rule = LowRankRule::kQera;
  EXPECT_TRUE(lowrank_needs_h(c));
  c.rule = LowRankRule::kLoaq;
  EXPECT_FALSE(lowrank_needs_h(c));
  EXPECT_TRUE(lowrank_rule_info(c.rule).data_free);
  c.weighted = true;
  EXPECT_TRUE(lowrank_needs_h(c));
  c.rule = LowRankRule::kLqer;
  EXPECT_TRUE(lowrank_needs_mean_abs_x(c));
  EXPECT_THROW(validate(c), Error);  // weighted is for loaq only
  c.weighted = false;
  parse_lowrank_bits("4,8", c);
  EXPECT_EQ(c.wbits, 4);
  EXPECT_EQ(c.abits, 8);
  for (const char* bad : {"8", "8,", "9,8", "8,1", "8,8,8", "a,b", "16,17"})
    EXPECT_THROW(parse_lowrank_bits(bad, c), Error) << bad;

  std::mt19937 g(9);
  const Tensor e = randn(12, 10, g);
  c.rule = LowRankRule::kQera;
  c.rank = 3;
  c.wbits = c.abits = 16;
  EXPECT_THROW(fit_lowrank(e, c, {}), Error);  // no H
  c.rule = LowRankRule::kLqer;
  EXPECT_THROW(fit_lowrank(e, c, {}), Error);  // no mean |x|
}

TEST(LowRankRules, FitLowRankQuantizesAndReportsBothObjectives) {
  std::mt19937 g(10);
  const Tensor e = randn(30, 20, g, 0.02f);
  const MatD h = make_h(20, 200, g);
  std::vector<double> s(20);
  for (size_t i = 0; i < s.size(); ++i) s[i] = 0.5 + 0.1 * double(i);
  LowRankStats st;
  st.h = &h;
  st.mean_abs_x = &s;
  LowRankConfig c;
  c.rank = 50;  // clamped to min(out, in) = 20 ... then lowered below
  c.rule = LowRankRule::kSvd;
  EXPECT_EQ(fit_lowrank(e, c, st).rank, 20);
  c.rank = 5;
  c.wbits = 4;
  c.abits = 8;
  double svd_err = 0;
  for (const auto& info : lowrank_rules()) {
    if (info.rule == LowRankRule::kNone) continue;
    c.rule = info.rule;
    const LowRankResult r = fit_lowrank(e, c, st);
    EXPECT_EQ(r.branch.rank(), 5);
    EXPECT_EQ(r.branch.l1.bits, 4);
    EXPECT_EQ(r.branch.act_bits, 8);
    EXPECT_LT(r.err_with, r.err_without) << info.name;
    EXPECT_LT(r.werr_with, r.werr_without) << info.name;
    EXPECT_EQ(r.info.svd, "full");
    if (info.rule == LowRankRule::kSvd) svd_err = r.err_with;
    if (info.rule == LowRankRule::kLoaq) {
      EXPECT_LE(r.err_with, svd_err);  // loaq never worse than svd at the same rank and bits
      EXPECT_GT(r.info.descent_steps, 0);
    }
  }
}

}  // namespace
}  // namespace loaq
