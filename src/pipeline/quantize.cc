#include "pipeline/quantize.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/linalg.h"
#include "core/progress.h"
#include "dist/dist.h"
#include "model/lowrank_apply.h"
#include "model/ops.h"
#include "pipeline/ranks.h"
#include "pipeline/stats.h"

namespace loaq {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Relative solver objective tr(E H Eᵀ) / tr(W̃ H W̃ᵀ), E = Q − W̃, in blocks of rows (so that
// its fp64 workspace stays small whatever the linear's size).
double relative_objective(const Tensor& q, const Tensor& target, const MatD& h) {
  const int64_t M = q.rows(), N = q.cols();
  constexpr int64_t kRows = 256;
  double num = 0, den = 0;
  for (int64_t r0 = 0; r0 < M; r0 += kRows) {
    const int64_t n = std::min(kRows, M - r0);
    MatD E(n, N), T(n, N);
    for (int64_t i = 0; i < n * N; ++i) {
      const size_t k = size_t(r0 * N + i);
      E.data[size_t(i)] = double(q.data[k]) - target.data[k];
      T.data[size_t(i)] = target.data[k];
    }
    const MatD EH = matmul(E, false, h, false), TH = matmul(T, false, h, false);
    for (size_t i = 0; i < E.data.size(); ++i) {
      num += EH.data[i] * E.data[i];
      den += TH.data[i] * T.data[i];
    }
  }
  return den > 0 ? num / den : 0.0;
}

class Driver {
 public:
  Driver(const ModelSource& src, const CalibSet& calib, const QuantizeConfig& cfg, LayerSink& sink,
         const DriverOptions& opt)
      : src_(src),
        c_(src.config()),
        calib_(calib),
        cfg_(cfg),
        info_(method_info(cfg.method)),
        sink_(sink),
        opt_(opt) {}

  QuantizeReport run() {
    const auto t0 = Clock::now();
    validate(cfg_.act);
    validate(cfg_.grid);
    if (c_.loaq.lowrank)
      fail(
          "the model's linears already carry low-rank branches (config.json "
          "loaq.lowrank_branches); "
          "quantize the original model");
    if (cfg_.lowrank.enabled()) {
      validate(cfg_.lowrank);
      if (cfg_.method == Method::kNone)
        fail(
            "--lowrank {} needs a quantized main layer (--method none leaves the weights as they "
            "are)",
            lowrank_rule_info(cfg_.lowrank.rule).name);
    }
    if (cfg_.chunk_samples < 1) fail("chunk size must be positive");
    report_ = opt_.resumed_report;
    const bool data = method_needs_calibration(cfg_);
    if (data &&
        (calib_.nsamples < 1 || int64_t(calib_.ids.size()) != calib_.nsamples * calib_.seqlen))
      fail("calibration set is empty or malformed ({} windows of {} tokens, {} ids)",
           calib_.nsamples, calib_.seqlen, calib_.ids.size());
    if (cfg_.rotate) rotate_globals();
    int64_t first = 0;
    if (data) {
      first = start_streams();
    } else if (opt_.resume) {
      first = opt_.resume->layers_done;
    }
    report_.first_layer = first;

    Progress bar("quantize", (c_.num_layers - first) * 7, "linear", cfg_.progress);
    bar_ = &bar;
    for (int64_t l = first; l < c_.num_layers; ++l) {
      layer_ = l;
      auto t = Clock::now();
      LayerWeights wf = *src_.layer(l);  // the original weights: the FP stream and the targets
      if (rotations_) rotate_layer(c_, *rotations_, wf);
      wf.act = ActQuant{};  // the FP stream's activations are never quantized
      LayerWeights wq = wf;
      wq.act = cfg_.act;
      timing("load", t);
      states_.clear();
      if (!data) {
        if (cfg_.method != Method::kNone)
          solve_group({std::begin(kAllLinears), std::end(kAllLinears)}, wf, Stats(), wq);
        else
          bar.advance(7);
      } else {
        // Qronos (brevitas) starts each decoder layer from the quantized model's input: "resets
        // the accumulated error at the start of each Transformer layer" (LoaQ paper §3.1).
        if (info_.reset_fp_stream) copy_stream(streams_.hq, streams_.hf);
        sublayer(true, wf, wq);
        sublayer(false, wf, wq);
      }
      streams_.layers_done = l + 1;
      if (dist::size() > 1) record_comm(l);
      report_.timings["total"] = base_total_ + since(t0);
      t = Clock::now();
      sink_.layer_done(l, std::move(wq), std::move(states_), report_, streams_);
      timing("checkpoint", t);
      if (opt_.stop_after_layer == l) throw StopAfterLayer{l};
    }
    bar.finish();
    report_.timings["total"] = base_total_ + since(t0);
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

  void rotate_globals() {
    const auto t = Clock::now();
    rotations_ = make_rotations(c_, cfg_.rotate_seed);
    report_.rotation = rotations_->report;
    if (opt_.resume) return;  // written by the run that started
    ModelConfig rc = c_;
    record_rotation(rc, *rotations_);
    Tensor embed = src_.embed_matrix(), head = src_.head_matrix(), norm = src_.final_norm_weight();
    rotate_head(*rotations_, head, norm);
    rotate_embedding_rows(*rotations_, embed);
    sink_.rotated_globals(rc, embed, head, norm);
    report_.timings["rotate"] += since(t);
  }

  // The streams at the start of the first layer to run: the embeddings (rotated with cfg.rotate),
  // or the resume state. Returns that layer.
  int64_t start_streams() {
    const int64_t S = calib_.nsamples, T = calib_.seqlen, Hd = c_.hidden_size;
    if (T > c_.max_position_embeddings)
      fail("calibration seqlen {} exceeds the model's context ({} positions)", T,
           c_.max_position_embeddings);
    report_.calib_tokens = S * T;
    rope_ = make_rope_table(c_, T);
    use_fp_ = info_.fp_stream;
    share_ = WindowShare(S, cfg_.chunk_samples);
    const int64_t W = share_.windows();  // this rank's windows: all of them on one process
    const int64_t widest = std::max(c_.q_dim(), c_.intermediate_size);
    const int64_t cache = int64_t(sizeof(float)) * W * T * widest * (use_fp_ ? 2 : 1);
    // A branch reads its input before the main layer's activation quantizer, which the cache
    // does not keep: with both, the W_out inputs are recomputed.
    use_cache_ = cache <= cfg_.cache_bytes && !(cfg_.lowrank.enabled() && cfg_.act.enabled());
    report_.cache_bytes = use_cache_ ? cache : 0;
    report_.stream_bytes = Stream::bytes_for(cfg_.stream_dtype, W, T, Hd) * (use_fp_ ? 2 : 1);
    if (opt_.resume) {
      if (opt_.resume->hq.windows() != W)
        fail("internal: resumed stream of {} windows, this rank holds {}",
             opt_.resume->hq.windows(), W);
      streams_.layers_done = opt_.resume->layers_done;
      streams_.hq = opt_.resume->hq;
      if (use_fp_) streams_.hf = opt_.resume->hf;
      return opt_.resume->layers_done;
    }
    auto t = Clock::now();
    streams_.hq = Stream(cfg_.stream_dtype, W, T, Hd);
    if (use_fp_) streams_.hf = Stream(cfg_.stream_dtype, W, T, Hd);
    for (int64_t c = share_.chunks.begin; c < share_.chunks.end; ++c) {
      const int64_t s0 = share_.begin(c), s1 = share_.end(c, S);
      Tensor h = src_.embed(std::span(calib_.ids).subspan(size_t(s0 * T), size_t((s1 - s0) * T)));
      if (rotations_) rotate_embedding_rows(*rotations_, h);
      streams_.hq.write(s0 - share_.w0, h);
      if (use_fp_) streams_.hf.write(s0 - share_.w0, h);
    }
    timing("forward", t);
    return 0;
  }

  static void copy_stream(const Stream& from, Stream& to) { to = from; }

  // The inputs of the W_in group (normed hidden) or of W_out (the sub-layer module output) for a
  // chunk of one stream, with the weights `w`, as the linears read them (linear_input).
  Tensor linear_input(bool attn, bool w_in, const LayerWeights& w, const Tensor& h,
                      int64_t n) const {
    Tensor x = rms_norm(h, attn ? w.input_norm : w.post_attn_norm, c_.rms_norm_eps);
    if (w_in)
      return loaq::linear_input(c_, w, attn ? LinearName::kQ : LinearName::kGate, std::move(x));
    x = attn ? attention_inner(c_, w, rope_, {n, calib_.seqlen}, x) : mlp_inner(c_, w, x);
    return loaq::linear_input(c_, w, attn ? LinearName::kO : LinearName::kDown, std::move(x));
  }

  // One sub-layer: quantize W_in, then W_out, then advance both streams.
  void sublayer(bool attn, const LayerWeights& wf, LayerWeights& wq) {
    const auto in_names =
        attn ? std::vector<LinearName>{LinearName::kQ, LinearName::kK, LinearName::kV}
             : std::vector<LinearName>{LinearName::kGate, LinearName::kUp};
    const LinearName out_name = attn ? LinearName::kO : LinearName::kDown;
    const int64_t n_in = c_.hidden_size, n_out = attn ? c_.q_dim() : c_.intermediate_size;
    {
      const std::vector<int> owners = owners_of(in_names, wf);
      const Stats st = accumulate(attn, true, wf, wq, n_in, deliver_to(owners));
      solve_group(in_names, wf, st, wq);
    }
    {
      const std::vector<int> owners = owners_of({out_name}, wf);
      const Stats st = accumulate(attn, false, wf, wq, n_out, deliver_to(owners));
      solve_group({out_name}, wf, st, wq);
    }

    // Both streams through the sub-layer: ĥ with the quantized weights, h with the original ones.
    auto t = Clock::now();
    const int64_t S = calib_.nsamples, T = calib_.seqlen;
    for (int64_t c = share_.chunks.begin; c < share_.chunks.end; ++c) {
      const int64_t s0 = share_.begin(c), s1 = share_.end(c, S), n = s1 - s0;
      const int64_t l0 = s0 - share_.w0;  // in this rank's streams
      const size_t ci = size_t(c - share_.chunks.begin);
      auto step = [&](Stream& stream, const LayerWeights& w, std::vector<Tensor>& cached) {
        Tensor h = stream.read(l0, l0 + n);
        if (use_cache_) {  // h += W_out(x) with the W_out input computed in accumulate()
          const Tensor y = linear_output(w, out_name, cached[ci], cached[ci]);
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
                 &stream == &streams_.hq ? "quantized" : "full-precision", layer_,
                 attn ? "attention" : "MLP", s0, s1 - 1);
        stream.write(l0, h);
      };
      step(streams_.hq, wq, cache_q_);
      if (use_fp_) step(streams_.hf, wf, cache_f_);
    }
    timing("forward", t);
  }

  // Statistics of the W_in (w_in) or W_out group over the calibration windows, chunk by chunk in
  // window order. On several ranks, each forms its chunks' inputs and the sums are chained along
  // the ranks (Stats::sum_over_ranks) to rank `to` (dist::kAll: every rank).
  Stats accumulate(bool attn, bool w_in, const LayerWeights& wf, const LayerWeights& wq, int64_t N,
                   int to) {
    auto t = Clock::now();
    const int64_t S = calib_.nsamples, T = calib_.seqlen, Hd = c_.hidden_size;
    const bool noa = info_.sublayer_term && !w_in && cfg_.loaq.noa;  // eq. 12 (W_out only)
    const bool soa = info_.sublayer_term && !w_in && cfg_.loaq.soa;  // the β term (W_out only)
    Stats st(N, Hd, use_fp_, soa, cfg_.lowrank.enabled() && lowrank_needs_mean_abs_x(cfg_.lowrank));
    const Linear& w_out = wf.linear(attn ? LinearName::kO : LinearName::kDown);
    double fwd = 0;
    const bool ranks = dist::size() > 1;
    std::vector<Stats::Chunk> kept;  // ranks: this rank's chunks' inputs, for the chained sum
    if (!attn && w_in)  // mid-layer: tests of the fault path and of resuming after a killed rank
      dist::test_fault_point(fmt::format("quantize-layer-{}", layer_).c_str());
    for (int64_t c = share_.chunks.begin; c < share_.chunks.end; ++c) {
      const int64_t s0 = share_.begin(c), s1 = share_.end(c, S), n = s1 - s0, rows = n * T;
      const int64_t l0 = s0 - share_.w0;
      const auto tf = Clock::now();
      const Tensor hq = streams_.hq.read(l0, l0 + n);
      Tensor xq = linear_input(attn, w_in, wq, hq, n);
      Tensor hf, xf;
      if (use_fp_) {
        hf = streams_.hf.read(l0, l0 + n);
        xf = linear_input(attn, w_in, wf, hf, n);
      }
      if (use_cache_ && !w_in) {  // the sub-layer's W_out input, before any NOA rescaling
        const size_t ci = size_t(c - share_.chunks.begin);
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
      if (st.has_c)
        for (size_t i = 0; i < xf.data.size(); ++i) xf.data[i] -= xq.data[i];  // X − X̂
      if (ranks)
        kept.push_back({std::move(xq), st.has_c ? std::move(xf) : Tensor(),
                        st.has_s ? std::move(target) : Tensor()});
      else
        st.add_chunk(xq, st.has_c ? &xf : nullptr, st.has_s ? &target : nullptr);
    }
    report_.timings["forward"] += fwd;
    if (ranks) {
      const auto tc = Clock::now();
      st.sum_over_ranks(kept, share_.n_chunks, S * T, to);
      report_.timings["statistics"] += since(t) - fwd - since(tc);
      report_.timings["collectives"] += since(tc);
      if (to != dist::kAll && to != dist::rank()) return st;  // the sums are another rank's
    } else {
      report_.timings["statistics"] += since(t) - fwd;
    }
    for (double v : st.H.data)
      if (!std::isfinite(v))
        fail(
            "non-finite value in the inputs of layer {} {} {} (the calibration activations "
            "overflow)",
            layer_, attn ? "attention" : "MLP",
            w_in ? (attn ? "q/k/v" : "gate/up") : (attn ? "o_proj" : "down_proj"));
    return st;
  }

  // The solve owners of a group of linears that share their statistics (dist::assign_owners by
  // estimated cost): all rank 0 on one process.
  std::vector<int> owners_of(const std::vector<LinearName>& names, const LayerWeights& w) const {
    std::vector<double> cost;
    for (LinearName n : names) {
      const Tensor& x = w.linear(n).w;
      cost.push_back(solve_cost(x.rows(), x.cols(), info_.uses_data));
    }
    return dist::assign_owners(cost);
  }
  // Where a group's statistics must go: its one owner, or every rank.
  static int deliver_to(const std::vector<int>& owners) {
    for (int o : owners)
      if (o != owners.front()) return dist::kAll;
    return owners.front();
  }

  // Solves a group of linears sharing the statistics `st`: each on its owner rank (all at once,
  // in parallel across ranks), then every result is copied to every rank in the group's order.
  void solve_group(const std::vector<LinearName>& names, const LayerWeights& wf, const Stats& st,
                   LayerWeights& wq) {
    const std::vector<int> owners = owners_of(names, wf);
    std::vector<Solved> solved(names.size());
    std::vector<LinearReport> lines(names.size());
    basis_.reset();  // qera's eigen-basis of this group's H, formed once on first use
    for (size_t i = 0; i < names.size(); ++i) {
      if (owners[i] != dist::rank()) continue;
      const auto t = Clock::now();
      const GridConfig grid = method_grid_for_linear(cfg_, name(names[i]), c_);
      const Tensor& w = wf.linear(names[i]).w;
      std::optional<LowRankResult> lr;
      Tensor product;  // B̂ = the dequantized L2·L1
      if (cfg_.lowrank.enabled() && cfg_.lowrank.first) {
        // SVDQuant's order: the branch on W, the main method on W − B̂.
        lr = fit_lowrank(w, cfg_.lowrank, lowrank_stats(st));
        product = lowrank_product(lr->branch);
        Tensor rest = w;
        for (size_t k = 0; k < rest.data.size(); ++k) rest.data[k] -= product.data[k];
        solved[i] = info_.solve(rest, st, grid, cfg_);
        for (size_t k = 0; k < rest.data.size(); ++k) solved[i].target.data[k] += product.data[k];
      } else {
        solved[i] = info_.solve(w, st, grid, cfg_);
        if (cfg_.lowrank.enabled()) {  // the LQER / EoRA order: the branch on E = W̃ − Q
          Tensor e = solved[i].target;
          for (size_t k = 0; k < e.data.size(); ++k) e.data[k] -= solved[i].q.q.data[k];
          lr = fit_lowrank(e, cfg_.lowrank, lowrank_stats(st));
          product = lowrank_product(lr->branch);
        }
      }
      const QuantizedLinear& q = solved[i].q;
      auto objective = [&](const Tensor& deployed) {
        return st.H.rows ? relative_objective(deployed, solved[i].target, st.H) : 0.0;
      };
      lines[i] = {name(names[i]), objective(q.q), q.damp, q.damp_raises, q.dead_columns, 0.0};
      if (lr) {
        Tensor deployed = q.q;
        for (size_t k = 0; k < deployed.data.size(); ++k) deployed.data[k] += product.data[k];
        lines[i].objective_main = lines[i].objective;
        lines[i].objective = objective(deployed);
        lines[i].lowrank_rank = lr->rank;
        lines[i].lowrank_bytes = lr->branch.bytes();
        lines[i].lowrank_fit = lr->err_without > 0 ? lr->err_with / lr->err_without : 0.0;
        lines[i].lowrank_seconds = lr->seconds;
        solved[i].q.lowrank = std::move(lr->branch);
      }
      lines[i].seconds = since(t);
    }
    const auto tb = Clock::now();
    for (size_t i = 0; i < names.size(); ++i) broadcast_linear(solved[i].q, lines[i], owners[i]);
    if (dist::size() > 1) report_.timings["collectives"] += since(tb);
    for (size_t i = 0; i < names.size(); ++i) {
      lines[i].name = name(names[i]);
      // The layer takes the dequantized weight; the integer state handed to the sink keeps only
      // its codes, scales and zeros (LayerSink::layer_done), so the layer is not held twice.
      wq.linear(names[i]).w = std::move(solved[i].q.q);
      solved[i].q.q = Tensor();
      if (solved[i].q.lowrank)  // the compensated linear goes into the quantized stream
        wq.linear(names[i]).lowrank =
            std::make_shared<const LowRankLinear>(make_lowrank_linear(*solved[i].q.lowrank));
      report_.timings["solve"] += lines[i].seconds - lines[i].lowrank_seconds;
      if (lines[i].lowrank_rank > 0) report_.timings["lowrank"] += lines[i].lowrank_seconds;
      report_.linears.push_back(lines[i]);
      // Only rank 0 writes the integer state.
      if (dist::is_root()) states_[name(names[i])] = std::move(solved[i].q);
      bar_->advance();
    }
  }

  // What the branch's rule reads from a group's statistics (quant/lowrank.h LowRankStats): H when
  // the group has one, qera's basis of it (shared by the group), the mean |x̂| per input.
  LowRankStats lowrank_stats(const Stats& st) {
    LowRankStats ls;
    if (st.H.rows > 0) ls.h = &st.H;
    const LowRankConfig& lc = cfg_.lowrank;
    const bool qera_init =
        lc.rule == LowRankRule::kQera || (lc.rule == LowRankRule::kLoaq && lc.weighted);
    if (ls.h && qera_init) {
      if (!basis_) basis_ = qera_basis(st.H);
      ls.basis = &*basis_;
    }
    if (st.has_abs) {
      mean_abs_ = st.mean_abs();
      ls.mean_abs_x = &mean_abs_;
    }
    return ls;
  }

  // The traffic of layer l over every rank (a collective).
  void record_comm(int64_t l) {
    const auto all = dist::gather_comm_stats();
    LayerComm lc{l, 0, 0.0};
    for (const auto& s : all) {
      lc.bytes += s.bytes;
      lc.seconds = std::max(lc.seconds, s.seconds);
    }
    const int64_t bytes = lc.bytes;
    const double seconds = lc.seconds;
    lc.bytes -= comm_bytes_;
    lc.seconds -= comm_seconds_;
    comm_bytes_ = bytes;
    comm_seconds_ = seconds;
    report_.comm.push_back(lc);
  }

  WindowShare share_;  // this rank's chunks and windows
  int64_t comm_bytes_ = 0;
  double comm_seconds_ = 0;
  const ModelSource& src_;
  const ModelConfig& c_;
  const CalibSet& calib_;
  const QuantizeConfig& cfg_;
  const MethodInfo& info_;
  LayerSink& sink_;
  const DriverOptions& opt_;
  QuantizeReport report_;
  double base_total_ = 0;
  std::optional<ModelRotations> rotations_;
  RopeTable rope_;
  StreamState streams_;
  std::vector<Tensor> cache_q_, cache_f_;  // W_out inputs per chunk of each stream (use_cache_)
  std::map<std::string, QuantizedLinear> states_;
  std::optional<QeraBasis> basis_;  // of the group being solved (lowrank_stats)
  std::vector<double> mean_abs_;
  bool use_fp_ = false, use_cache_ = false;
  int64_t layer_ = 0;
  Progress* bar_ = nullptr;
};

// The sink of quantize_model: the layers go back into the resident model.
class ModelSink : public LayerSink {
 public:
  ModelSink(Model& m, std::map<std::string, QuantizedLinear>* out) : m_(m), out_(out) {}
  void rotated_globals(const ModelConfig& c, const Tensor& embed, const Tensor& head,
                       const Tensor& final_norm) override {
    m_.config = c;
    m_.weights.embed = embed;
    m_.weights.lm_head = head;
    m_.weights.final_norm = final_norm;
  }
  void layer_done(int64_t l, LayerWeights&& wq, std::map<std::string, QuantizedLinear>&& states,
                  const QuantizeReport&, const StreamState&) override {
    m_.weights.layers[size_t(l)] = std::move(wq);
    if (!out_) return;
    const LayerWeights& w = m_.weights.layers[size_t(l)];
    const std::string p = fmt::format("model.layers.{}.", l);
    for (auto& [k, v] : states) {
      for (LinearName n : kAllLinears)  // the caller gets the dequantized weight back
        if (k == p + std::string(linear_path(n))) v.q = w.linear(n).w;
      (*out_)[k] = std::move(v);
    }
  }

 private:
  Model& m_;
  std::map<std::string, QuantizedLinear>* out_;
};

}  // namespace

QuantizeReport quantize_layers(const ModelSource& src, const CalibSet& calib,
                               const QuantizeConfig& cfg, LayerSink& sink,
                               const DriverOptions& opt) {
  return Driver(src, calib, cfg, sink, opt).run();
}

QuantizeReport quantize_model(Model& m, const CalibSet& calib, const QuantizeConfig& cfg,
                              std::map<std::string, QuantizedLinear>* out) {
  const Model original = m;  // the source the driver reads while the sink rewrites `m`
  ModelSink sink(m, out);
  QuantizeReport rep = quantize_layers(ModelSource(original), calib, cfg, sink);
  m.config.loaq.act_bits = cfg.act.bits;  // recorded in the output's config.json
  m.config.loaq.act_clip = cfg.act.clip;
  return rep;
}

}  // namespace loaq
