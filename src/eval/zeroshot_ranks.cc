#include "eval/zeroshot_ranks.h"

#include "dist/dist.h"

namespace loaq {

namespace {
// An example's scores as doubles: pred, pred_norm, then (loglik, is_greedy, n_tokens) per choice.
int64_t packed_size(const McExample& ex) {
  return 2 + 3 * int64_t(ex.requests.size());
}
}  // namespace

std::vector<ExampleScore> score_task_ranks(const ModelSource& m, const Tokenizer& tok, const McTask& task,
                                           const ZeroshotOptions& o) {
  if (dist::size() == 1) return score_task(m, tok, task, o);
  const auto n = int64_t(task.examples.size());
  const dist::Range mine = dist::my_range(n);
  McTask sub;
  sub.name = task.name;
  sub.file = task.file;
  sub.has_acc_norm = task.has_acc_norm;
  sub.examples.assign(task.examples.begin() + mine.begin, task.examples.begin() + mine.end);
  const std::vector<ExampleScore> part = score_task(m, tok, sub, o);

  std::vector<int64_t> off(size_t(n) + 1, 0);  // first double of each example
  for (int64_t e = 0; e < n; ++e)
    off[size_t(e + 1)] = off[size_t(e)] + packed_size(task.examples[size_t(e)]);
  std::vector<double> packed(size_t(off.back()), 0.0);
  for (int64_t e = mine.begin; e < mine.end; ++e) {
    const ExampleScore& s = part[size_t(e - mine.begin)];
    double* p = packed.data() + off[size_t(e)];
    *p++ = double(s.pred);
    *p++ = double(s.pred_norm);
    for (const ChoiceScore& c : s.choices) {
      *p++ = c.loglik;
      *p++ = c.is_greedy ? 1.0 : 0.0;
      *p++ = double(c.n_tokens);
    }
  }
  std::vector<dist::Range> ranges;
  for (const dist::Range r : dist::split_all(n))
    ranges.push_back({off[size_t(r.begin)], off[size_t(r.end)]});
  dist::allgather(packed, ranges);

  std::vector<ExampleScore> out(static_cast<size_t>(n));
  for (int64_t e = 0; e < n; ++e) {
    const double* p = packed.data() + off[size_t(e)];
    ExampleScore& s = out[size_t(e)];
    s.pred = int64_t(p[0]);
    s.pred_norm = int64_t(p[1]);
    s.choices.resize(task.examples[size_t(e)].requests.size());
    for (size_t c = 0; c < s.choices.size(); ++c)
      s.choices[c] = {p[2 + 3 * c], p[3 + 3 * c] != 0.0, int64_t(p[4 + 3 * c])};
  }
  return out;
}

}  // namespace loaq
