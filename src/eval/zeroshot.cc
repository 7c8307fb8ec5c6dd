#include "eval/zeroshot.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/progress.h"
#include "core/vexp.h"
#include "eval/zeroshot_ranks.h"
#include "model/layer_major.h"
#include "model/prefix_tree.h"
#include "text/datasets.h"
#include "text/utf8.h"

namespace loaq {

EncodedPair encode_pair(const Tokenizer& tok, std::string_view context,
                        std::string_view continuation, bool bos) {
  // The harness moves the context's trailing whitespace (str.rstrip()) to the continuation.
  const std::string_view ctx = py_rstrip(context);
  const std::string cont = std::string(context.substr(ctx.size())) + std::string(continuation);
  auto with_bos = [&](std::vector<int32_t> ids) {
    if (bos) {
      if (!tok.bos_id) fail("{}: BOS requested but the tokenizer has no BOS token", tok.source());
      ids.insert(ids.begin(), *tok.bos_id);
    }
    return ids;
  };
  EncodedPair p;
  if (ctx.empty()) {  // lm_eval: context_enc = [prefix_token_id] (BOS), continuation encoded alone
    if (!tok.bos_id) fail("{}: empty context and the tokenizer has no BOS token", tok.source());
    p.context = {*tok.bos_id};
    p.continuation = tok.encode(cont);
  } else {
    p.context = with_bos(tok.encode(ctx));
    const std::vector<int32_t> whole = with_bos(tok.encode(std::string(ctx) + cont));
    const size_t n = std::min(p.context.size(), whole.size());
    p.continuation.assign(whole.begin() + std::ptrdiff_t(n), whole.end());
  }
  if (p.continuation.empty())
    fail("continuation '{}' of context '{}' encodes to no token", continuation, context);
  return p;
}

int64_t char_count(std::string_view s) {
  int64_t n = 0;
  bool valid = false;
  for (size_t i = 0; i < s.size(); i += utf8::char_length(s, i, &valid)) ++n;
  return n;
}

MeanStderr mean_stderr(std::span<const double> x) {
  MeanStderr r;
  const auto n = double(x.size());
  if (x.empty())
    return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
  for (const double v : x) r.mean += v;
  r.mean /= n;
  if (x.size() < 2) {
    r.se = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  double ss = 0;
  for (const double v : x) ss += (v - r.mean) * (v - r.mean);
  r.se = std::sqrt(ss / (n - 1)) / std::sqrt(n);
  return r;
}

namespace {

// Where a choice's continuation tokens are predicted: the rows of the batch whose logits predict
// them and the tokens.
struct ChoiceRows {
  int64_t example = 0, choice = 0;  // within the batch's examples
  std::vector<int64_t> rows;
  std::vector<int32_t> targets;
};

// log softmax(l)[target] in double (max-shifted log-sum-exp) and whether target is the first
// argmax.
double token_logprob(const float* l, int64_t V, int32_t target, bool* is_argmax) {
  float mx = l[0];
#pragma omp simd reduction(max : mx)
  for (int64_t j = 1; j < V; ++j) mx = std::max(mx, l[j]);
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < V; ++j) s += vexpf(l[j] - mx);
  const int64_t arg = std::find(l, l + V, mx) - l;  // torch.argmax: the first maximum
  *is_argmax = arg == target;
  return double(l[target]) - double(mx) - std::log(s);
}

// Accumulates every choice's log-likelihood into `out` from the hidden states `h` of a packed
// tree (after the last layer).
void score_rows(const ModelSource& m, const Tensor& h, const std::vector<ChoiceRows>& cr,
                std::vector<ExampleScore>& out, int64_t example0) {
  const int64_t H = h.cols(), V = m.vocab();
  // Gather the scored rows, then logits in chunks (bounds memory for large vocabularies).
  std::vector<std::pair<size_t, size_t>> refs;  // (choice entry, token)
  for (size_t c = 0; c < cr.size(); ++c)
    for (size_t k = 0; k < cr[c].rows.size(); ++k) refs.emplace_back(c, k);
  constexpr size_t kChunk = 512;
  for (size_t r0 = 0; r0 < refs.size(); r0 += kChunk) {
    const size_t nr = std::min(kChunk, refs.size() - r0);
    Tensor sel({int64_t(nr), H});
    for (size_t i = 0; i < nr; ++i) {
      const auto [c, k] = refs[r0 + i];
      std::copy_n(h.row(cr[c].rows[k]), H, sel.row(int64_t(i)));
    }
    const Tensor x = m.final_norm(sel);
    Tensor logits({int64_t(nr), V});
    m.head_logits(x.ptr(), int64_t(nr), logits.ptr());
    std::vector<double> lp(nr);
    std::vector<char> greedy(nr);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < nr; ++i) {
      const auto [c, k] = refs[r0 + i];
      bool g = false;
      lp[i] = token_logprob(logits.row(int64_t(i)), V, cr[c].targets[k], &g);
      greedy[i] = g;
    }
    for (size_t i = 0; i < nr; ++i) {
      const auto [c, k] = refs[r0 + i];
      ChoiceScore& s = out[size_t(example0 + cr[c].example)].choices[size_t(cr[c].choice)];
      s.loglik += lp[i];
      s.is_greedy = s.is_greedy && greedy[i];
    }
  }
}

// Packed trees waiting to run, layer-major as one group.
struct PendingBatch {
  PrefixTree tree;
  std::vector<ChoiceRows> cr;
  int64_t example0 = 0;
};

void run_group(const ModelSource& m, std::vector<PendingBatch>& group,
               std::vector<ExampleScore>& out) {
  std::vector<ForwardBatch> fb;
  for (const auto& b : group) fb.push_back({Layout(b.tree), m.embed(b.tree.ids)});
  forward_layer_major(m, fb);
  for (size_t i = 0; i < group.size(); ++i) {
    score_rows(m, fb[i].hidden, group[i].cr, out, group[i].example0);
    fb[i].hidden = Tensor();
  }
}

// A request as the model sees it: input = (ctx + cont)[-(max_length + 1):][:-1] (HFLM
// _loglikelihood_tokens), whose last len(cont) positions predict the continuation.
struct ChoiceInput {
  std::vector<int32_t> input, continuation;
};

ChoiceInput choice_input(const Tokenizer& tok, const McTask& task, const McExample& ex,
                         const McRequest& rq, bool bos, int64_t max_length) {
  EncodedPair p;
  try {
    p = encode_pair(tok, rq.context, rq.continuation, bos);
  } catch (const Error& err) {
    fail("{}:{}: example {}: {}", task.file, ex.line, ex.index, err.what());
  }
  ChoiceInput r{std::move(p.context), std::move(p.continuation)};
  r.input.insert(r.input.end(), r.continuation.begin(), r.continuation.end());
  if (int64_t(r.input.size()) > max_length + 1)
    r.input.erase(r.input.begin(), r.input.end() - (max_length + 1));
  if (r.continuation.size() >= r.input.size())
    fail("{}:{}: example {}: the continuation has {} tokens, more than the model's context of {}",
         task.file, ex.line, ex.index, r.continuation.size(), max_length);
  r.input.pop_back();
  return r;
}

int64_t first_argmax(const std::vector<double>& v) {
  return int64_t(std::max_element(v.begin(), v.end()) - v.begin());  // first of equal maxima
}

}  // namespace

std::vector<ExampleScore> score_task(const ModelSource& m, const Tokenizer& tok, const McTask& task,
                                     const ZeroshotOptions& o) {
  const int64_t max_length = o.max_length > 0 ? o.max_length
                             : m.config().max_position_embeddings > 0
                                 ? m.config().max_position_embeddings
                                 : 2048;
  std::vector<ExampleScore> out(task.examples.size());
  Progress bar(task.name, int64_t(task.examples.size()), "ex", o.progress);
  const int64_t row_bytes = m.config().hidden_size * int64_t(sizeof(float));
  std::vector<PendingBatch> group;
  int64_t group_rows = 0, group_first = 0;
  PendingBatch cur;
  for (size_t e = 0; e < task.examples.size(); ++e) {
    const McExample& ex = task.examples[e];
    const int64_t n_choices = int64_t(ex.requests.size());
    out[e].choices.assign(size_t(n_choices), ChoiceScore{0.0, true, 0});
    std::vector<std::vector<int32_t>> inputs(static_cast<size_t>(n_choices));
    std::vector<std::vector<int32_t>> conts(static_cast<size_t>(n_choices));
    for (int64_t c = 0; c < n_choices; ++c) {
      ChoiceInput in = choice_input(tok, task, ex, ex.requests[size_t(c)], o.bos, max_length);
      inputs[size_t(c)] = std::move(in.input);
      conts[size_t(c)] = std::move(in.continuation);
      out[e].choices[size_t(c)].n_tokens = int64_t(conts[size_t(c)].size());
    }
    const auto rows = add_group(cur.tree, inputs);
    for (int64_t c = 0; c < n_choices; ++c) {
      // logits[len(input) − len(cont) + j] predicts cont[j].
      const auto& r = rows[size_t(c)];
      const auto& ct = conts[size_t(c)];
      ChoiceRows x{int64_t(e) - cur.example0, c, {}, ct};
      x.rows.assign(r.end() - std::ptrdiff_t(ct.size()), r.end());
      cur.cr.push_back(std::move(x));
    }
    const bool last = e + 1 == task.examples.size();
    if (cur.tree.rows() >= o.batch_tokens || last) {
      group_rows += cur.tree.rows();
      group.push_back(std::move(cur));
      cur = PendingBatch{};
      cur.example0 = int64_t(e + 1);
      if (group_rows * row_bytes >= o.hidden_bytes || last) {
        run_group(m, group, out);
        bar.advance(int64_t(e + 1) - group_first);
        group.clear();
        group_rows = 0;
        group_first = int64_t(e + 1);
      }
    }
  }
  bar.finish();
  for (size_t e = 0; e < out.size(); ++e) {
    const McExample& ex = task.examples[e];
    std::vector<double> ll, norm;
    for (size_t c = 0; c < out[e].choices.size(); ++c) {
      ll.push_back(out[e].choices[c].loglik);
      norm.push_back(ll.back() / double(char_count(ex.choices[c])));
    }
    out[e].pred = first_argmax(ll);
    out[e].pred_norm = task.has_acc_norm ? first_argmax(norm) : -1;
  }
  return out;
}

TaskResult evaluate_task(const ModelSource& m, const Tokenizer& tok, const McTask& task,
                         const ZeroshotOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  TaskResult r;
  r.name = task.name;
  r.file = task.file;
  r.has_acc_norm = task.has_acc_norm;
  r.skipped = task.skipped;
  r.scores = score_task_ranks(m, tok, task, o);  // this rank's examples, gathered in order
  r.n = int64_t(r.scores.size());
  std::vector<double> acc, acc_norm;
  for (size_t e = 0; e < r.scores.size(); ++e) {
    acc.push_back(r.scores[e].pred == task.examples[e].label ? 1.0 : 0.0);
    acc_norm.push_back(r.scores[e].pred_norm == task.examples[e].label ? 1.0 : 0.0);
  }
  const auto a = mean_stderr(acc);
  r.acc = a.mean;
  r.acc_stderr = a.se;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto an = task.has_acc_norm ? mean_stderr(acc_norm) : MeanStderr{nan, nan};
  r.acc_norm = an.mean;
  r.acc_norm_stderr = an.se;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string paper_acc_metric(const std::string& task) {
  return task == "arc_challenge" || task == "hellaswag" ? "acc_norm" : "acc";
}

double paper_acc_avg(const std::vector<TaskResult>& res) {
  if (res.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (const auto& r : res) s += paper_acc_metric(r.name) == "acc_norm" ? r.acc_norm : r.acc;
  return s / double(res.size());
}

namespace {

nlohmann::ordered_json num(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

std::string avg_definition(const std::vector<TaskResult>& res) {
  std::string d = "mean over the tasks of ";
  for (size_t i = 0; i < res.size(); ++i)
    d += fmt::format("{}{} {}", i ? ", " : "", res[i].name, paper_acc_metric(res[i].name));
  d += " (the paper's Acc: acc_norm for ARC-Challenge and HellaSwag, acc for the others)";
  return d;
}

}  // namespace

void add_zeroshot_json(nlohmann::ordered_json& out, const std::vector<TaskResult>& res) {
  auto& tasks = out["tasks"];
  tasks = nlohmann::ordered_json::object();
  double acc_sum = 0;
  for (const auto& r : res) {
    tasks[r.name] = {{"acc", num(r.acc)},
                     {"acc_stderr", num(r.acc_stderr)},
                     {"acc_norm", num(r.acc_norm)},
                     {"acc_norm_stderr", num(r.acc_norm_stderr)},
                     {"n", r.n},
                     {"skipped", r.skipped},
                     {"file", r.file},
                     {"seconds", r.seconds}};
    acc_sum += r.acc;
  }
  out["acc_avg"] = num(paper_acc_avg(res));
  out["acc_avg_definition"] = avg_definition(res);
  out["acc_mean"] =
      num(res.empty() ? std::numeric_limits<double>::quiet_NaN() : acc_sum / double(res.size()));
}

std::string zeroshot_samples_jsonl(const std::vector<McTask>& tasks,
                                   const std::vector<TaskResult>& res) {
  if (tasks.size() != res.size())
    fail("zeroshot_samples_jsonl: {} tasks but {} results", tasks.size(), res.size());
  std::string s;
  for (size_t t = 0; t < tasks.size(); ++t) {
    const McTask& task = tasks[t];
    const TaskResult& r = res[t];
    if (r.scores.size() != task.examples.size())
      fail("zeroshot_samples_jsonl: {} has {} examples but {} scores", task.name,
           task.examples.size(), r.scores.size());
    for (size_t e = 0; e < r.scores.size(); ++e) {
      const McExample& x = task.examples[e];
      const ExampleScore& sc = r.scores[e];
      nlohmann::ordered_json resps = nlohmann::ordered_json::array(), n = resps;
      for (const ChoiceScore& c : sc.choices) {
        resps.push_back({num(c.loglik), c.is_greedy});
        n.push_back(c.n_tokens);
      }
      nlohmann::ordered_json j = {
          {"task", task.name},  {"doc_id", x.index},    {"line", x.line},
          {"target", x.label},  {"resps", resps},       {"n_tokens", n},
          {"pred", sc.pred},    {"pred_norm", nullptr}, {"acc", sc.pred == x.label ? 1 : 0},
          {"acc_norm", nullptr}};
      if (task.has_acc_norm) {
        j["pred_norm"] = sc.pred_norm;
        j["acc_norm"] = sc.pred_norm == x.label ? 1 : 0;
      }
      s += j.dump() + "\n";
    }
  }
  return s;
}

std::string zeroshot_table(const std::vector<TaskResult>& res) {
  auto pct = [](double v) { return std::isfinite(v) ? fmt::format("{:.2f}", 100 * v) : "-"; };
  std::string s = fmt::format("{:<14} {:>7} {:>7} {:>8} {:>7} {:>9} {:>6} {:>8}\n", "task", "n",
                              "acc %", "± se", "norm %", "± se", "skip", "seconds");
  for (const auto& r : res)
    s += fmt::format("{:<14} {:>7} {:>7} {:>8} {:>7} {:>9} {:>6} {:>8.1f}\n", r.name, r.n,
                     pct(r.acc), pct(r.acc_stderr), pct(r.acc_norm), pct(r.acc_norm_stderr),
                     r.skipped, r.seconds);
  s += fmt::format("Acc {:.2f} % = {}\n", 100 * paper_acc_avg(res), avg_definition(res));
  return s;
}

}  // namespace loaq
