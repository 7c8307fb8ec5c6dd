#include "pipeline/quantize.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/blas.h"
#include "core/error.h"
#include "core/linalg.h"
#include "core/progress.h"
#include "model/ops.h"
#include "quant/loaq.h"
#include "quant/qronos.h"

namespace loaq {

std::string method_name(Method m) {
  switch (m) {
    case Method::kNone:
      return "none";
    case Method::kRtn:
      return "rtn";
    case Method::kGptq:
      return "gptq";
    case Method::kGptaq:
      return "gptaq";
    case Method::kQronos:
      return "qronos";
    case Method::kLoaq:
      return "loaq";
  }
  return "?";
}

Method parse_method(const std::string& s) {
  for (Method m :
       {Method::kNone, Method::kRtn, Method::kGptq, Method::kGptaq, Method::kQronos, Method::kLoaq})
    if (method_name(m) == s) return m;
  fail("--method '{}': choose one of none, rtn, gptq, gptaq, qronos, loaq", s);
}

bool method_needs_calibration(const QuantizeConfig& cfg) {
  return cfg.method != Method::kNone && (cfg.method != Method::kRtn || cfg.grid.neuqi());
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Statistics of one linear group's input over the calibration set (sums over tokens, fp64).
struct Stats {
  MatD H;  // X̂ᵀX̂
  MatD C;  // X̂ᵀ(X − X̂)             (methods that use the FP stream)
  MatD S;  // X̂ᵀ(h − ĥ) [in, hidden] (LoaQ's sub-layer term, W_out only)
  bool has_c = false, has_s = false;
};

bool needs_fp_stream(Method m) {
  return m == Method::kGptaq || m == Method::kQronos || m == Method::kLoaq;
}

// Relative solver objective tr(E H Eᵀ) / tr(W̃ H W̃ᵀ), E = Q − W̃.
double relative_objective(const Tensor& q, const Tensor& target, const MatD& h) {
  const int64_t M = q.rows(), N = q.cols();
  MatD E(M, N), T(M, N);
  for (size_t i = 0; i < E.data.size(); ++i) {
    E.data[i] = double(q.data[i]) - target.data[i];
    T.data[i] = target.data[i];
  }
  const MatD EH = matmul(E, false, h, false), TH = matmul(T, false, h, false);
  double num = 0, den = 0;
  for (size_t i = 0; i < E.data.size(); ++i) {
    num += EH.data[i] * E.data[i];
    den += TH.data[i] * T.data[i];
  }
  return den > 0 ? num / den : 0.0;
}

class Driver {
 public:
  Driver(Model& m, const CalibSet& calib, const QuantizeConfig& cfg,
         std::map<std::string, QuantizedLinear>* out)
      : m_(m), c_(m.config), calib_(calib), cfg_(cfg), out_(out) {}

  QuantizeReport run() {
    const auto t0 = Clock::now();
    validate(cfg_.act);
    for (auto& layer : m_.weights.layers) layer.act = cfg_.act;
    m_.config.loaq.act_bits = cfg_.act.bits;  // recorded in the output's config.json
    m_.config.loaq.act_clip = cfg_.act.clip;
    if (cfg_.method == Method::kNone) return report_;
    // RTN needs no data, except with a NeUQI grid (its diag(H)).
    if (cfg_.method == Method::kRtn && !cfg_.grid.neuqi()) {
      run_rtn();
      report_.timings["total"] = since(t0);
      return report_;
    }
    const int64_t S = calib_.nsamples, T = calib_.seqlen, Hd = c_.hidden_size;
    if (T > c_.max_position_embeddings)
      fail("calibration seqlen {} exceeds the model's context ({} positions)", T,
           c_.max_position_embeddings);
    report_.calib_tokens = S * T;
    rope_ = make_rope_table(c_, T);
    auto t = Clock::now();
    hq_ = embed(m_, calib_.ids);  // the quantized stream ĥ
    use_fp_ = needs_fp_stream(cfg_.method);
    if (use_fp_) hf_ = hq_;  // the full-precision stream h
    report_.stream_bytes = int64_t(sizeof(float)) * S * T * Hd * (use_fp_ ? 2 : 1);
    const int64_t widest = std::max(c_.q_dim(), c_.intermediate_size);
    const int64_t cache = int64_t(sizeof(float)) * S * T * widest * (use_fp_ ? 2 : 1);
    use_cache_ = cache <= cfg_.cache_bytes;
    report_.cache_bytes = use_cache_ ? cache : 0;
    timing("forward", t);

    Progress bar("quantize", c_.num_layers * 7, "linear", cfg_.progress);
    bar_ = &bar;
    for (int64_t l = 0; l < c_.num_layers; ++l) {
      layer_ = l;
      LayerWeights& wq = m_.weights.layers[size_t(l)];
      LayerWeights wf = wq;  // original weights: the FP stream and the targets
      wf.act = ActQuant{};   // the FP stream's activations are never quantized
      // Qronos (brevitas) starts each decoder layer from the quantized model's input: "resets the
      // accumulated error at the start of each Transformer layer" (LoaQ paper §3.1).
      if (cfg_.method == Method::kQronos) hf_ = hq_;
      sublayer(true, wf, wq);
      sublayer(false, wf, wq);
    }
    bar.finish();
    report_.timings["total"] = since(t0);
    return report_;
  }

 private:
  void timing(const char* stage, Clock::time_point& t) {
    report_.timings[stage] += since(t);
    t = Clock::now();
  }

  std::string name(LinearName n) const {
    return fmt::format("model.layers.{}.{}", layer_, linear_path(n));
  }

  void run_rtn() {
    Progress bar("quantize", c_.num_layers * 7, "linear", cfg_.progress);
    for (int64_t l = 0; l < c_.num_layers; ++l) {
      layer_ = l;
      for (LinearName n : kAllLinears) {
        const auto t = Clock::now();
        Linear& lin = m_.weights.layers[size_t(l)].linear(n);
        QuantizedLinear q = rtn_quantize(lin.w, cfg_.grid);
        report_.linears.push_back({name(n), 0.0, 0.0, 0, 0, since(t)});
        lin.w = q.q;
        if (out_) (*out_)[name(n)] = std::move(q);
        bar.advance();
      }
    }
  }

  // Rows [s0, s1) of the calibration set as a chunk of a stream.
  Tensor chunk(const Tensor& stream, int64_t s0, int64_t s1) const {
    const int64_t T = calib_.seqlen, Hd = c_.hidden_size;
    Tensor x({(s1 - s0) * T, Hd});
    std::copy_n(stream.data.begin() + s0 * T * Hd, (s1 - s0) * T * Hd, x.data.begin());
    return x;
  }

  // The inputs of the W_in group (normed hidden) or of W_out (the sub-layer module output) for a
  // chunk of one stream, with the weights `w`.
  Tensor linear_input(bool attn, bool w_in, const LayerWeights& w, const Tensor& h,
                      int64_t n) const {
    Tensor x = rms_norm(h, attn ? w.input_norm : w.post_attn_norm, c_.rms_norm_eps);
    if (!w_in)
      x = attn ? attention_inner(c_, w, rope_, {n, calib_.seqlen}, x) : mlp_inner(c_, w, x);
    quantize_activations(w.act, x.ptr(), x.rows(), x.cols());  // what the linear reads (W4A4)
    return x;
  }

  // One sub-layer: quantize W_in, then W_out, then advance both streams.
  void sublayer(bool attn, const LayerWeights& wf, LayerWeights& wq) {
    const auto in_names =
        attn ? std::vector<LinearName>{LinearName::kQ, LinearName::kK, LinearName::kV}
             : std::vector<LinearName>{LinearName::kGate, LinearName::kUp};
    const LinearName out_name = attn ? LinearName::kO : LinearName::kDown;
    const int64_t n_in = c_.hidden_size, n_out = attn ? c_.q_dim() : c_.intermediate_size;

    Stats st = accumulate(attn, true, wf, wq, n_in);
    for (LinearName n : in_names) solve(n, wf.linear(n).w, st, wq.linear(n));
    st = accumulate(attn, false, wf, wq, n_out);
    solve(out_name, wf.linear(out_name).w, st, wq.linear(out_name));

    // Both streams through the sub-layer: ĥ with the quantized weights, h with the original ones.
    auto t = Clock::now();
    const int64_t S = calib_.nsamples, T = calib_.seqlen, Hd = c_.hidden_size;
    for (int64_t s0 = 0; s0 < S; s0 += cfg_.chunk_samples) {
      const int64_t s1 = std::min(S, s0 + cfg_.chunk_samples), n = s1 - s0;
      const size_t ci = size_t(s0 / cfg_.chunk_samples);
      auto step = [&](Tensor& stream, const LayerWeights& w, std::vector<Tensor>& cached) {
        Tensor h = chunk(stream, s0, s1);
        if (use_cache_) {  // h += W_out(x) with the W_out input computed in accumulate()
          const Tensor y = apply_linear(w.linear(out_name), cached[ci]);
          for (int64_t i = 0; i < h.numel(); ++i) h.data[size_t(i)] += y.data[size_t(i)];
          cached[ci] = Tensor();
        } else if (attn) {
          attention_block(c_, w, rope_, {n, T}, h);
        } else {
          mlp_block(c_, w, {n, T}, h);
        }
        for (float v : h.data)
          if (!std::isfinite(v))
            fail("non-finite value in the {} stream after layer {} {} (samples {}–{})",
                 &stream == &hq_ ? "quantized" : "full-precision", layer_,
                 attn ? "attention" : "MLP", s0, s1 - 1);
        std::copy(h.data.begin(), h.data.end(), stream.data.begin() + s0 * T * Hd);
      };
      step(hq_, wq, cache_q_);
      if (use_fp_) step(hf_, wf, cache_f_);
    }
    timing("forward", t);
  }

  // Statistics of the W_in (w_in) or W_out group over all calibration chunks.
  Stats accumulate(bool attn, bool w_in, const LayerWeights& wf, const LayerWeights& wq,
                   int64_t N) {
    auto t = Clock::now();
    const int64_t S = calib_.nsamples, T = calib_.seqlen, Hd = c_.hidden_size;
    const bool loaq = cfg_.method == Method::kLoaq;
    const bool noa = loaq && !w_in && cfg_.loaq.noa;  // eq. 12 rescaling (W_out only)
    const bool soa = loaq && !w_in && cfg_.loaq.soa;  // the β term (W_out only)
    Stats st;
    st.H = MatD(N, N);
    st.has_c = use_fp_;
    st.has_s = soa;
    if (st.has_c) st.C = MatD(N, N);
    if (st.has_s) st.S = MatD(N, Hd);
    const Linear& w_out = wf.linear(attn ? LinearName::kO : LinearName::kDown);
    double fwd = 0;
    for (int64_t s0 = 0; s0 < S; s0 += cfg_.chunk_samples) {
      const int64_t s1 = std::min(S, s0 + cfg_.chunk_samples), n = s1 - s0, rows = n * T;
      const auto tf = Clock::now();
      const Tensor hq = chunk(hq_, s0, s1);
      Tensor xq = linear_input(attn, w_in, wq, hq, n);
      Tensor hf, xf;
      if (use_fp_) {
        hf = chunk(hf_, s0, s1);
        xf = linear_input(attn, w_in, wf, hf, n);
      }
      if (use_cache_ && !w_in) {  // the sub-layer's W_out input, before any NOA rescaling
        const size_t ci = size_t(s0 / cfg_.chunk_samples);
        cache_q_.resize(std::max(cache_q_.size(), ci + 1));
        cache_q_[ci] = xq;
        if (use_fp_) {
          cache_f_.resize(std::max(cache_f_.size(), ci + 1));
          cache_f_[ci] = xf;
        }
      }
      fwd += since(tf);
      Tensor target;  // s·h − ŝ·ĥ (or h − ĥ without NOA), rows × hidden
      if (soa) {
        target = Tensor({rows, Hd});
        for (size_t i = 0; i < target.data.size(); ++i) target.data[i] = hf.data[i] - hq.data[i];
      }
      if (noa) {
        // s = R(h + X W_outᵀ), ŝ = R(ĥ + X̂ W_outᵀ) with the original W_out (eqs. 1–2, 12).
        const Tensor yf = apply_linear(w_out, xf), yq = apply_linear(w_out, xq);
        for (int64_t r = 0; r < rows; ++r) {
          double sf = 0, sq = 0;
          for (int64_t j = 0; j < Hd; ++j) {
            const double a = double(hf.data[size_t(r * Hd + j)]) + yf.data[size_t(r * Hd + j)];
            const double b = double(hq.data[size_t(r * Hd + j)]) + yq.data[size_t(r * Hd + j)];
            sf += a * a;
            sq += b * b;
          }
          const auto rf = float(1.0 / std::sqrt(sf / double(Hd) + c_.rms_norm_eps));
          const auto rq = float(1.0 / std::sqrt(sq / double(Hd) + c_.rms_norm_eps));
          for (int64_t j = 0; j < N; ++j) {
            xf.data[size_t(r * N + j)] *= rf;
            xq.data[size_t(r * N + j)] *= rq;
          }
          if (soa)
            for (int64_t j = 0; j < Hd; ++j)
              target.data[size_t(r * Hd + j)] =
                  rf * hf.data[size_t(r * Hd + j)] - rq * hq.data[size_t(r * Hd + j)];
        }
      }
      add_gram(st.H, xq.ptr(), rows, N);
      if (st.has_c) {
        for (size_t i = 0; i < xf.data.size(); ++i) xf.data[i] -= xq.data[i];  // X − X̂
        add_cross(st.C, xq.ptr(), xf.ptr(), rows, N, N);
      }
      if (st.has_s) add_cross(st.S, xq.ptr(), target.ptr(), rows, N, Hd);
    }
    report_.timings["forward"] += fwd;
    report_.timings["statistics"] += since(t) - fwd;
    for (double v : st.H.data)
      if (!std::isfinite(v))
        fail(
            "non-finite value in the inputs of layer {} {} {} (the calibration activations "
            "overflow)",
            layer_, attn ? "attention" : "MLP",
            w_in ? (attn ? "q/k/v" : "gate/up") : (attn ? "o_proj" : "down_proj"));
    return st;
  }

  void solve(LinearName n, const Tensor& w, const Stats& st, Linear& dst) {
    const auto t = Clock::now();
    QuantizedLinear q;
    Tensor target = w;
    switch (cfg_.method) {
      case Method::kRtn:  // only with a NeUQI grid: diag(H) of the quantized stream (the reference's)
        q = rtn_quantize(w, cfg_.grid, neuqi_weights(st.H, cfg_.solver.percdamp).data());
        break;
      case Method::kGptq:
        q = gptq_quantize(w, st.H, cfg_.grid, cfg_.solver);
        break;
      case Method::kGptaq: {
        MatD dxxt(st.C.cols, st.C.rows);  // GPTAQ's dXXT = Σ (X − X̂)ᵀ X̂ = Cᵀ
        for (int64_t i = 0; i < st.C.rows; ++i)
          for (int64_t j = 0; j < st.C.cols; ++j) dxxt(j, i) = st.C(i, j);
        const GptaqTerm term{&dxxt, cfg_.gptaq_alpha};
        q = gptq_quantize(w, st.H, cfg_.grid, cfg_.solver, &term);
        break;
      }
      case Method::kQronos: {
        MatD g = st.H;  // G = XᵀX̂ = H + Cᵀ
        for (int64_t i = 0; i < g.rows; ++i)
          for (int64_t j = 0; j < g.cols; ++j) g(i, j) += st.C(j, i);
        GridConfig grid = cfg_.grid;
        if (!grid.sym && grid.fit == GridFit::kMinMax)
          grid.flavor = GridFlavor::kBrevitas;  // the reference's grid
        q = qronos_quantize(w, st.H, g, grid,
                            {cfg_.qronos_alpha, cfg_.solver.act_order, cfg_.solver.percdamp});
        break;
      }
      case Method::kLoaq: {
        double mean = 0;
        for (int64_t i = 0; i < st.H.rows; ++i) mean += st.H(i, i);
        const double damp = cfg_.solver.percdamp * mean / double(st.H.rows);
        target = loaq_target(w, st.H, st.C, st.has_s ? &st.S : nullptr, cfg_.loaq.alpha,
                             st.has_s ? cfg_.loaq.beta : 0.0, damp);
        q = gptq_quantize(target, st.H, cfg_.grid, cfg_.solver);
        break;
      }
      default:
        fail("internal error: solve() for method {}", method_name(cfg_.method));
    }
    LinearReport lr{
        name(n), relative_objective(q.q, target, st.H), q.damp, q.damp_raises, q.dead_columns, 0.0};
    dst.w = q.q;
    if (out_) (*out_)[name(n)] = std::move(q);
    lr.seconds = since(t);
    report_.timings["solve"] += lr.seconds;
    report_.linears.push_back(lr);
    bar_->advance();
  }

  Model& m_;
  const ModelConfig& c_;
  const CalibSet& calib_;
  const QuantizeConfig& cfg_;
  std::map<std::string, QuantizedLinear>* out_;
  QuantizeReport report_;
  RopeTable rope_;
  Tensor hq_, hf_;
  std::vector<Tensor> cache_q_, cache_f_;  // W_out inputs per chunk of each stream (use_cache_)
  bool use_fp_ = false, use_cache_ = false;
  int64_t layer_ = 0;
  Progress* bar_ = nullptr;
};

}  // namespace

QuantizeReport quantize_model(Model& m, const CalibSet& calib, const QuantizeConfig& cfg,
                              std::map<std::string, QuantizedLinear>* out) {
  validate(cfg.grid);
  if (cfg.chunk_samples < 1) fail("chunk size must be positive");
  const bool needs_data = method_needs_calibration(cfg);
  if (needs_data &&
      (calib.nsamples < 1 || int64_t(calib.ids.size()) != calib.nsamples * calib.seqlen))
    fail("calibration set is empty or malformed ({} windows of {} tokens, {} ids)", calib.nsamples,
         calib.seqlen, calib.ids.size());
  std::optional<RotationReport> rotation;
  double rotate_seconds = 0;
  if (cfg.rotate) {
    const auto t = Clock::now();
    rotation = rotate_model(m, cfg.rotate_seed);
    rotate_seconds = since(t);
  }
  QuantizeReport rep = Driver(m, calib, cfg, out).run();
  if (rotation) {
    rep.rotation = std::move(rotation);
    rep.timings["rotate"] = rotate_seconds;
  }
  return rep;
}

}  // namespace loaq
