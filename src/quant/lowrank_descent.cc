#include "quant/lowrank_descent.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/blas.h"
#include "core/error.h"

namespace loaq {

namespace {

double rms(const Tensor& t) {
  double s = 0;
  for (float v : t.data) s += double(v) * double(v);
  return t.data.empty() ? 0.0 : std::sqrt(s / double(t.data.size()));
}

// One Adam update of p with gradient g and moments m, v (t ≥ 1):
// p ← p − step · m̂ / (√v̂ + ε), ε relative to the gradient's scale (1e-12 · max |g|).
void adam_update(std::vector<float>& p, const std::vector<float>& g, std::vector<float>& m,
                 std::vector<float>& v, double step, int t) {
  const double b1 = 0.9, b2 = 0.999, c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
  float gmax = 0;
  for (float x : g) gmax = std::max(gmax, std::abs(x));
  const double eps = 1e-12 * double(gmax) + 1e-30;
  for (size_t i = 0; i < p.size(); ++i) {
    m[i] = float(b1 * m[i] + (1 - b1) * g[i]);
    v[i] = float(b2 * v[i] + (1 - b2) * double(g[i]) * g[i]);
    const double mh = m[i] / c1, vh = v[i] / c2;
    p[i] = float(p[i] - step * mh / (std::sqrt(vh) + eps));
  }
}

// Weighted-loss state: E H [out, in], precomputed once.
struct Weighting {
  const MatD* h = nullptr;
  Tensor hf;  // H in fp32
  Tensor eh;  // E H
};

}  // namespace

DescentResult descend_lowrank(const Tensor& e, LowRankFactors init, const DescentConfig& cfg,
                              const MatD* h) {
  const int64_t out = e.rows(), in = e.cols(), r = init.l1.rows();
  if (init.l1.cols() != in || init.l2.rows() != out || init.l2.cols() != r)
    fail("loaq descent: factors {} and {} do not fit a {}×{} error", shape_str(init.l1.shape),
         shape_str(init.l2.shape), out, in);
  if (cfg.steps < 0 || cfg.patience < 0 || !(cfg.lr > 0))
    fail("--lowrank-steps {} / --lowrank-patience {} must be ≥ 0 and --lowrank-lr {} > 0",
         cfg.steps, cfg.patience, cfg.lr);
  Weighting w;
  if (h) {
    if (h->rows != in || h->cols != in)
      fail("loaq descent: H is {}×{} for a linear with {} inputs", h->rows, h->cols, in);
    w.h = h;
    w.hf = Tensor({in, in});
    for (size_t i = 0; i < h->data.size(); ++i) w.hf.data[i] = float(h->data[i]);
    w.eh = Tensor({out, in});
    gemm(false, false, out, in, in, 1.0f, e.ptr(), in, w.hf.ptr(), in, 0.0f, w.eh.ptr(), in);
  }

  Tensor q1({r, in}), q2({out, r}), d({out, in}), g({out, in}), q1h, g1({r, in}), g2({out, r});
  if (h) q1h = Tensor({r, in});
  // Loss of the quantized iterate; leaves Q_b(L1), Q_b(L2) in q1, q2 and G (D or D H) in g.
  auto evaluate = [&](const LowRankFactors& f) {
    fake_quantize_rows(f.l1.ptr(), q1.ptr(), r, in, cfg.bits);
    fake_quantize_rows(f.l2.ptr(), q2.ptr(), out, r, cfg.bits);
    d.data = e.data;
    gemm(false, false, out, in, r, -1.0f, q2.ptr(), r, q1.ptr(), in, 1.0f, d.ptr(), in);
    double loss = 0;
    if (!h) {
      for (float v : d.data) loss += double(v) * double(v);
      return loss;
    }
    // D H = E H − Q2 (Q1 H).
    gemm(false, false, r, in, in, 1.0f, q1.ptr(), in, w.hf.ptr(), in, 0.0f, q1h.ptr(), in);
    g.data = w.eh.data;
    gemm(false, false, out, in, r, -1.0f, q2.ptr(), r, q1h.ptr(), in, 1.0f, g.ptr(), in);
    for (size_t i = 0; i < d.data.size(); ++i) loss += double(d.data[i]) * double(g.data[i]);
    return loss;
  };

  DescentResult res;
  LowRankFactors cur = std::move(init);
  res.loss_init = res.loss = evaluate(cur);
  res.f = cur;
  if (cfg.steps == 0 || (cfg.bits == 16 && !h)) return res;  // the SVD start is already optimal
  const double step1 = cfg.lr * rms(cur.l1), step2 = cfg.lr * rms(cur.l2);
  std::vector<float> m1(cur.l1.data.size()), v1(m1.size()), m2(cur.l2.data.size()), v2(m2.size());
  int since_best = 0;
  for (int t = 1; t <= cfg.steps; ++t) {
    const Tensor& gm = h ? g : d;
    // ∂L/∂L2 = −2 G Q1ᵀ, ∂L/∂L1 = −2 Q2ᵀ G (straight-through estimator).
    gemm(false, true, out, r, in, -2.0f, gm.ptr(), in, q1.ptr(), in, 0.0f, g2.ptr(), r);
    gemm(true, false, r, in, out, -2.0f, q2.ptr(), r, gm.ptr(), in, 0.0f, g1.ptr(), in);
    // Cosine decay of the step size to 0 over `steps` updates.
    const double decay = 0.5 * (1 + std::cos(std::numbers::pi * (t - 1) / cfg.steps));
    adam_update(cur.l1.data, g1.data, m1, v1, step1 * decay, t);
    adam_update(cur.l2.data, g2.data, m2, v2, step2 * decay, t);
    res.steps_run = t;
    const double loss = evaluate(cur);
    if (!std::isfinite(loss)) break;
    if (loss < res.loss) {
      res.loss = loss;
      res.f = cur;
      res.best_step = t;
      since_best = 0;
    } else if (cfg.patience > 0 && ++since_best >= cfg.patience) {
      break;
    }
  }
  return res;
}

}  // namespace loaq
