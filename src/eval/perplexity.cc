#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/progress.h"
#include "core/vmath.h"
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

PplResult perplexity(const Model& m, std::span<const int32_t> ids, const PplOptions& o) {
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
  Progress bar(o.label, mine.size(), "win", o.progress);
  std::vector<double> nll(size_t(o.seqlen));
  // Logits are produced one window at a time into this buffer (seqlen × V floats, reused) rather
  // than for the whole batch: no batch-sized allocation to zero-fill, and the log-sum-exp reads
  // rows that are still in cache.
  Tensor logits({o.seqlen, m.weights.head().rows()});
  for (int64_t w0 = mine.begin; w0 < mine.end; w0 += per_batch) {
    const int64_t nb = std::min(per_batch, mine.end - w0);
    const auto win = ids.subspan(size_t(w0 * o.seqlen), size_t(nb * o.seqlen));
    Tensor hidden = embed(m, win);
    forward_layers(m, {nb, o.seqlen}, hidden);
    const Tensor x = final_norm(m, hidden);
    for (int64_t b = 0; b < nb; ++b) {
      head_logits(m, x.row(b * o.seqlen), o.seqlen, logits.ptr());
      next_token_nll(logits, 0, o.seqlen, win.subspan(size_t(b * o.seqlen)), nll.data());
      double s = 0;
      for (int64_t t = 0; t < o.seqlen - 1; ++t) s += nll[size_t(t)];
      window_sum[size_t(w0 + b)] = s;
    }
    bar.advance(nb);
    dist::test_fault_point("ppl");
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
