#include "eval/trace_mse.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/error.h"
#include "core/progress.h"
#include "model/decoder_layer.h"
#include "model/rotate.h"

namespace loaq {

namespace {

// Per-token sums of one sub-layer over every traced token, in window order.
struct TokenErrors {
  std::vector<double> fp_norm, sq_err, sq_err_norm;
};

double inv_rms(const float* x, int64_t n, double eps) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return 1.0 / std::sqrt(s / double(n) + eps);
}

// Appends the rows of one batch: ‖h_t‖, ‖ĥ_t − h_t‖² and ‖n(ĥ_t) − n(h_t)‖².
void add_batch(const Tensor& h, const Tensor& hq, double eps, TokenErrors& e) {
  const int64_t rows = h.rows(), n = h.cols();
  const size_t base = e.fp_norm.size();
  e.fp_norm.resize(base + size_t(rows));
  e.sq_err.resize(base + size_t(rows));
  e.sq_err_norm.resize(base + size_t(rows));
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < rows; ++t) {
    const float* a = h.row(t);
    const float* b = hq.row(t);
    const double ra = inv_rms(a, n, eps), rb = inv_rms(b, n, eps);
    double norm2 = 0, d2 = 0, dn2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double x = a[i], y = b[i];
      norm2 += x * x;
      d2 += (y - x) * (y - x);
      dn2 += (y * rb - x * ra) * (y * rb - x * ra);
    }
    e.fp_norm[base + size_t(t)] = std::sqrt(norm2);
    e.sq_err[base + size_t(t)] = d2;
    e.sq_err_norm[base + size_t(t)] = dn2;
  }
}

SublayerMse summarize(int64_t layer, const char* sublayer, const TokenErrors& e, int64_t hidden,
                      double quantile) {
  SublayerMse r;
  r.layer = layer;
  r.sublayer = sublayer;
  r.tokens = int64_t(e.fp_norm.size());
  const double cut = nearest_rank_quantile(e.fp_norm, quantile);
  double s = 0, sn = 0, s_all = 0, sn_all = 0;
  int64_t kept = 0;
  for (size_t t = 0; t < e.fp_norm.size(); ++t) {
    s_all += e.sq_err[t];
    sn_all += e.sq_err_norm[t];
    if (e.fp_norm[t] > cut) continue;
    s += e.sq_err[t];
    sn += e.sq_err_norm[t];
    ++kept;
  }
  r.outliers = r.tokens - kept;
  r.mse = s / (double(kept) * double(hidden));
  r.mse_norm = sn / (double(kept) * double(hidden));
  r.mse_all = s_all / (double(r.tokens) * double(hidden));
  r.mse_norm_all = sn_all / (double(r.tokens) * double(hidden));
  return r;
}

void check_same_shapes(const ModelConfig& a, const ModelConfig& b) {
  if (a.hidden_size != b.hidden_size || a.intermediate_size != b.intermediate_size ||
      a.num_layers != b.num_layers || a.num_heads != b.num_heads ||
      a.num_kv_heads != b.num_kv_heads || a.head_dim != b.head_dim ||
      a.vocab_size != b.vocab_size || a.arch != b.arch)
    fail(
        "the reference model and the quantized model have different shapes (hidden {} / {}, "
        "layers {} / {}, vocab {} / {}): trace a model against the model it was quantized from",
        a.hidden_size, b.hidden_size, a.num_layers, b.num_layers, a.vocab_size, b.vocab_size);
}

}  // namespace

double nearest_rank_quantile(std::vector<double> v, double q) {
  if (v.empty()) fail("a quantile of no values");
  if (!(q > 0 && q <= 1)) fail("the outlier quantile must be in (0, 1], got {}", q);
  const size_t k = size_t(std::ceil(q * double(v.size())));
  const size_t i = std::clamp<size_t>(k, 1, v.size()) - 1;
  std::nth_element(v.begin(), v.begin() + ptrdiff_t(i), v.end());
  return v[i];
}

std::vector<SublayerMse> trace_sublayer_mse(const ModelSource& original,
                                            const ModelSource& quantized,
                                            std::span<const int32_t> ids, const TraceOptions& o) {
  const ModelConfig& cf = original.config();
  const ModelConfig& cq = quantized.config();
  check_same_shapes(cf, cq);
  if (o.seqlen < 2) fail("--seqlen must be at least 2, got {}", o.seqlen);
  if (!(o.outlier_quantile > 0 && o.outlier_quantile <= 1))
    fail("the outlier quantile must be in (0, 1], got {}", o.outlier_quantile);
  // The basis: the original is rotated here as the quantized model was (same seed), or not at all.
  std::optional<ModelRotations> rot;
  if (cf.loaq.norms_folded()) {
    if (!cq.loaq.norms_folded() || cq.loaq.rotate_seed != cf.loaq.rotate_seed)
      fail(
          "the reference model is rotated ({} seed {}) but the quantized model is not rotated the "
          "same way: give the unrotated original as the reference",
          cf.loaq.rotation, cf.loaq.rotate_seed);
  } else if (cq.loaq.norms_folded()) {
    rot.emplace(make_rotations(cf, cq.loaq.rotate_seed));
  }
  const int64_t available = int64_t(ids.size()) / o.seqlen;
  const int64_t n_windows = o.windows > 0 ? std::min(o.windows, available) : available;
  if (n_windows < 1)
    fail("the trace stream has {} tokens: not one window of {} tokens", ids.size(), o.seqlen);
  const int64_t per_batch = std::max<int64_t>(1, o.batch_tokens / o.seqlen);

  struct Batch {
    Layout layout;
    Tensor h, hq;
  };
  std::vector<Batch> batches;
  for (int64_t w0 = 0; w0 < n_windows; w0 += per_batch) {
    const int64_t nb = std::min(per_batch, n_windows - w0);
    const auto span = ids.subspan(size_t(w0 * o.seqlen), size_t(nb * o.seqlen));
    Tensor h = original.embed(span);
    if (rot) rotate_embedding_rows(*rot, h);
    batches.push_back({Layout(nb, o.seqlen), std::move(h), quantized.embed(span)});
  }
  const RopeTable rope_f = make_rope_table(cf, o.seqlen);
  const RopeTable rope_q = make_rope_table(cq, o.seqlen);
  const double eps = cf.rms_norm_eps;
  std::vector<SublayerMse> out;
  Progress bar("trace", cf.num_layers, "layer", o.progress);
  for (int64_t l = 0; l < cf.num_layers; ++l) {
    std::shared_ptr<const LayerWeights> wf = original.layer(l);
    if (rot) {
      auto r = std::make_shared<LayerWeights>(*wf);
      rotate_layer(cf, *rot, *r);
      wf = std::move(r);
    }
    const auto wq = quantized.layer(l);
    TokenErrors attn, mlp;
    for (auto& b : batches) {
      attention_block(cf, *wf, rope_f, b.layout, b.h);
      attention_block(cq, *wq, rope_q, b.layout, b.hq);
      add_batch(b.h, b.hq, eps, attn);
      mlp_block(cf, *wf, b.layout, b.h);
      mlp_block(cq, *wq, b.layout, b.hq);
      add_batch(b.h, b.hq, eps, mlp);
    }
    out.push_back(summarize(l, "attn", attn, cf.hidden_size, o.outlier_quantile));
    out.push_back(summarize(l, "mlp", mlp, cf.hidden_size, o.outlier_quantile));
    bar.advance();
  }
  return out;
}

}  // namespace loaq
