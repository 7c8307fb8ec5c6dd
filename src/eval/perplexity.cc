#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/progress.h"
#include "core/vmath.h"
#include "model/layer_major.h"
#include "dist/dist.h"

namespace loaq {

void next_token_nll(const Tensor& logits, int64_t row0, int64_t rows, std::span<const int32_t> ids,
                    double* nll) {
  const int64_t V = logits.cols();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < rows - 1; ++t) {
    const float* l = logits.row(row0 + t);
    const float mx = max_of(l, V);
    nll[t] = double(mx) + std::log(sum_exp(l, V, mx)) - double(l[ids[size_t(t + 1)]]);
  }
}

PplResult perplexity(const ModelSource& m, std::span<const int32_t> ids, const PplOptions& o) {
  if (o.seqlen < 2) fail("--seqlen must be at least 2 (got {})", o.seqlen);
  PplResult r;
  r.n_tokens = int64_t(ids.size());
  r.n_windows_available = r.n_tokens / o.seqlen;
  r.n_windows =
      o.max_windows > 0 ? std::min(o.max_windows, r.n_windows_available) : r.n_windows_available;
  if (r.n_windows == 0)
    fail("{}: the text has {} tokens, fewer than one window of seqlen {}", o.label, r.n_tokens,
         o.seqlen);
  r.window_nll.assign(size_t(r.n_windows), 0.0);
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t per_batch = std::max<int64_t>(1, o.batch_tokens / o.seqlen);
  // Each rank runs a contiguous range of the batches, the same batches as one process (dist.h);
  // the windows' NLL sums are gathered and added in window order below.
  const auto ranges = dist::items_all(r.n_windows, per_batch);
  const dist::Range mine = ranges[size_t(dist::rank())];
  std::vector<double> window_sum(size_t(r.n_windows), 0.0);
  // The rank's windows run layer-major in groups of whole batches whose hidden states fit in
  // o.hidden_bytes: each group reads every layer once.
  const int64_t window_bytes = o.seqlen * m.config().hidden_size * int64_t(sizeof(float));
  const int64_t per_group =
      std::max<int64_t>(1, o.hidden_bytes / (window_bytes * per_batch)) * per_batch;
  const int64_t n_groups = (mine.size() + per_group - 1) / per_group;
  Progress bar(o.label, n_groups * (m.num_layers() + 1), "layer", o.progress);
  std::vector<double> nll(size_t(o.seqlen));
  // Logits are produced one window at a time into this buffer (seqlen × V floats, reused) rather
  // than for the whole batch: no batch-sized allocation to zero-fill, and the log-sum-exp reads
  // rows that are still in cache.
  Tensor logits({o.seqlen, m.vocab()});
  for (int64_t g0 = mine.begin; g0 < mine.end; g0 += per_group) {
    const int64_t g1 = std::min(mine.end, g0 + per_group);
    std::vector<ForwardBatch> batches;
    for (int64_t w0 = g0; w0 < g1; w0 += per_batch) {
      const int64_t nb = std::min(per_batch, g1 - w0);
      batches.push_back({Layout(nb, o.seqlen), m.embed(ids.subspan(size_t(w0 * o.seqlen),
                                                                    size_t(nb * o.seqlen)))});
    }
    forward_layer_major(m, batches, [&](int64_t) { bar.advance(); });
    int64_t w0 = g0;
    for (auto& b : batches) {
      const int64_t nb = b.layout.shape.batch;
      const auto win = ids.subspan(size_t(w0 * o.seqlen), size_t(nb * o.seqlen));
      const Tensor x = m.final_norm(b.hidden);
      b.hidden = Tensor();
      for (int64_t k = 0; k < nb; ++k) {
        m.head_logits(x.row(k * o.seqlen), o.seqlen, logits.ptr());
        next_token_nll(logits, 0, o.seqlen, win.subspan(size_t(k * o.seqlen)), nll.data());
        double s = 0;
        for (int64_t t = 0; t < o.seqlen - 1; ++t) s += nll[size_t(t)];
        window_sum[size_t(w0 + k)] = s;
      }
      w0 += nb;
      dist::test_fault_point("ppl");
    }
    bar.advance();
  }
  bar.finish();
  dist::allgather(window_sum, ranges);
  double total = 0;
  for (int64_t w = 0; w < r.n_windows; ++w) {
    r.window_nll[size_t(w)] = window_sum[size_t(w)] / double(o.seqlen - 1);
    total += window_sum[size_t(w)];
  }
  r.predicted_tokens = r.n_windows * (o.seqlen - 1);
  r.mean_nll = total / double(r.predicted_tokens);
  r.ppl = std::exp(r.mean_nll);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace loaq
