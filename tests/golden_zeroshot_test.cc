// Zero-shot scoring against shared/golden/zeroshot (lm-evaluation-harness conventions, float64
// reference): for both models and the five tasks, the requests and token ids of examples 0-99, and
// per example the log-likelihoods (|Δ| ≤ 1e-4 + 1e-5·continuation tokens, the README's float32
// bound), is_greedy flags and predictions (equal except where the golden's two best scores are
// within 5e-4), with BOS (default) and without. stories260K scores all 100 examples and compares
// the accuracies with summary.json; llama-mini-7m scores the first kMiniScored examples per task to
// keep the suite fast (LOAQ_ZEROSHOT_FULL=1 scores all 100 and compares summary.json too).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "eval/zeroshot.h"
#include "io/json_file.h"
#include "test_assets.h"
#include "text/tokenizer.h"

namespace loaq {
namespace {

using nlohmann::json;

constexpr int64_t kGoldenExamples = 100;
constexpr int64_t kMiniScored = 20;

std::vector<json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// Whether the best and second-best of `v` are within `eps` (the golden's near-tie rule).
bool near_tie(const std::vector<double>& v, double eps = 5e-4) {
  std::vector<double> s = v;
  std::sort(s.rbegin(), s.rend());
  return s.size() > 1 && s[0] - s[1] < eps;
}

struct Counts {
  int64_t acc = 0, acc_norm = 0, n = 0;
};

// Compares one variant's scores of task `t` (its first examples) with the golden records; returns
// the accuracy counts.
Counts check_scores(const McTask& t, const std::vector<ExampleScore>& sc,
                    const std::vector<json>& g, const std::string& sfx, const std::string& what,
                    double* worst) {
  Counts c;
  for (size_t e = 0; e < sc.size(); ++e) {
    const json& ge = g[e];
    const auto ll = ge.at("loglik" + sfx).get<std::vector<double>>();
    const auto greedy = ge.at("is_greedy" + sfx).get<std::vector<bool>>();
    const auto lens = ge.at("choice_len_chars").get<std::vector<double>>();
    const auto cont = ge.at("continuation_ids").get<std::vector<std::vector<int32_t>>>();
    if (sc[e].choices.size() != ll.size()) {
      ADD_FAILURE() << what << " example " << e << ": " << sc[e].choices.size() << " choices";
      continue;
    }
    std::vector<double> norm;
    for (size_t k = 0; k < ll.size(); ++k) {
      const double d = std::abs(sc[e].choices[k].loglik - ll[k]);
      *worst = std::max(*worst, d);
      EXPECT_LE(d, 1e-4 + 1e-5 * double(cont[k].size()))
          << what << " example " << e << " choice " << k << ": " << sc[e].choices[k].loglik
          << " vs " << ll[k];
      EXPECT_EQ(sc[e].choices[k].is_greedy, bool(greedy[k])) << what << " example " << e;
      EXPECT_EQ(sc[e].choices[k].n_tokens, int64_t(cont[k].size())) << what << " example " << e;
      norm.push_back(ll[k] / lens[k]);
    }
    if (!near_tie(ll)) {
      EXPECT_EQ(sc[e].pred, ge.at("pred" + sfx).get<int64_t>()) << what << " " << e;
    }
    if (t.has_acc_norm) {
      if (!near_tie(norm)) {
        EXPECT_EQ(sc[e].pred_norm, ge.at("pred_norm" + sfx).get<int64_t>()) << what << " " << e;
      }
    } else {
      EXPECT_TRUE(ge.at("pred_norm" + sfx).is_null());
      EXPECT_EQ(sc[e].pred_norm, -1);
    }
    const int64_t label = ge.at("label").get<int64_t>();
    c.acc += sc[e].pred == label;
    c.acc_norm += sc[e].pred_norm == label;
    ++c.n;
  }
  return c;
}

void check_model(const std::string& model_name, int64_t n_scored) {
  LOAQ_REQUIRE_ASSET(model_dir, "models/" + model_name);
  LOAQ_REQUIRE_ASSET(golden_dir, "golden/zeroshot/" + model_name);
  LOAQ_REQUIRE_ASSET(summary_path, "golden/zeroshot/summary.json");
  LOAQ_REQUIRE_ASSET(data, "data");
  const auto tok = load_tokenizer(model_dir);
  ASSERT_TRUE(tok->add_bos && tok->bos_id == 1);
  const Model model = load_model(model_dir);
  const json summary = read_json_file(summary_path).at("models").at(model_name);
  for (const auto& name : zeroshot_task_names()) {
    const McTask task = load_zeroshot_task(name, data, {.limit = kGoldenExamples});
    const auto g = read_jsonl(golden_dir + "/" + name + ".jsonl");
    ASSERT_EQ(task.examples.size(), g.size()) << name;
    // Requests and token ids of all golden examples (cheap: no forward).
    for (size_t e = 0; e < g.size(); ++e) {
      const McExample& ex = task.examples[e];
      const json& ge = g[e];
      ASSERT_EQ(ex.index, ge.at("index").get<int64_t>()) << name;
      EXPECT_EQ(ex.label, ge.at("label").get<int64_t>()) << name << " " << e;
      EXPECT_EQ(ex.choices, ge.at("choices").get<std::vector<std::string>>()) << name << " " << e;
      const auto rq = ge.at("requests").get<std::vector<std::vector<std::string>>>();
      const auto lens = ge.at("choice_len_chars").get<std::vector<int64_t>>();
      ASSERT_EQ(ex.requests.size(), rq.size()) << name << " " << e;
      for (size_t k = 0; k < rq.size(); ++k) {
        EXPECT_EQ(ex.requests[k].context, rq[k][0]) << name << " " << e;
        EXPECT_EQ(ex.requests[k].continuation, rq[k][1]) << name << " " << e;
        EXPECT_EQ(char_count(ex.choices[k]), lens[k]) << name << " " << e;
        const auto ctx = ge.at("context_ids")[k].get<std::vector<int32_t>>();
        const auto cont = ge.at("continuation_ids")[k].get<std::vector<int32_t>>();
        const EncodedPair nb = encode_pair(*tok, rq[k][0], rq[k][1], false);
        EXPECT_EQ(nb.context, ctx) << name << " " << e << " choice " << k;
        EXPECT_EQ(nb.continuation, cont) << name << " " << e << " choice " << k;
        const EncodedPair wb = encode_pair(*tok, rq[k][0], rq[k][1], true);
        ASSERT_FALSE(wb.context.empty());
        EXPECT_EQ(wb.context.front(), 1);
        EXPECT_EQ(std::vector<int32_t>(wb.context.begin() + 1, wb.context.end()), ctx);
        EXPECT_EQ(wb.continuation, cont);
      }
    }
    // Scores of the first n_scored examples, both variants.
    McTask head = task;
    head.examples.resize(size_t(std::min<int64_t>(n_scored, int64_t(task.examples.size()))));
    for (const bool bos : {true, false}) {
      ZeroshotOptions o;
      o.bos = bos;
      o.progress = false;
      o.batch_tokens = 1024;  // several batches
      const std::string sfx = bos ? "_bos" : "_nobos", what = model_name + " " + name + sfx;
      double worst = 0;
      const auto sc = score_task(model, *tok, head, o);
      const Counts c = check_scores(head, sc, g, sfx, what, &worst);
      std::printf("%-32s %3lld examples  max |dloglik| %.2e\n", what.c_str(),
                  static_cast<long long>(c.n), worst);
      if (c.n != kGoldenExamples) continue;
      // Accuracies: summary.json counts, within the near-tie allowance.
      const json& s = bos ? summary.at(name) : summary.at(name).at("nobos");
      const json& ties = summary.at(name).at(bos ? "near_ties_5e-4_bos" : "near_ties_5e-4_nobos");
      EXPECT_LE(std::abs(c.acc - s.at("acc_count").get<int64_t>()), ties.at("acc").get<int64_t>())
          << what;
      if (task.has_acc_norm) {
        EXPECT_LE(std::abs(c.acc_norm - s.at("acc_norm_count").get<int64_t>()),
                  ties.at("acc_norm").get<int64_t>())
            << what;
      }
    }
  }
}

TEST(GoldenZeroshot, Stories260K) {
  check_model("stories260K", kGoldenExamples);
}

TEST(GoldenZeroshot, LlamaMini7m) {
  const char* full = std::getenv("LOAQ_ZEROSHOT_FULL");
  check_model("llama-mini-7m", full && *full == '1' ? kGoldenExamples : kMiniScored);
}

// The harness's pair encoding: the context's trailing whitespace moves to the continuation, BOS in
// front of the context only, an empty context becomes [BOS].
TEST(GoldenZeroshot, PairEncoding) {
  LOAQ_REQUIRE_ASSET(model_dir, "models/llama-mini-7m");
  const auto tok = load_tokenizer(model_dir);
  const EncodedPair a = encode_pair(*tok, "The cat sat ", "on the mat", true);
  const EncodedPair b = encode_pair(*tok, "The cat sat", " on the mat", true);
  EXPECT_EQ(a.context, b.context);
  EXPECT_EQ(a.continuation, b.continuation);
  std::vector<int32_t> whole = {1};
  const auto ids = tok->encode("The cat sat on the mat");
  whole.insert(whole.end(), ids.begin(), ids.end());
  std::vector<int32_t> joined = a.context;
  joined.insert(joined.end(), a.continuation.begin(), a.continuation.end());
  EXPECT_EQ(joined, whole);
  const EncodedPair e = encode_pair(*tok, "", "Once upon a time", false);
  EXPECT_EQ(e.context, std::vector<int32_t>{1});
  EXPECT_EQ(e.continuation, tok->encode("Once upon a time"));
  EXPECT_THROW(encode_pair(*tok, "The cat", "", true), Error);
}

// Left truncation to max_length + 1 tokens (HFLM): the scores equal a plain forward of the
// truncated input, summed by hand over the continuation's positions.
TEST(GoldenZeroshot, TruncationEqualsPlainForward) {
  LOAQ_REQUIRE_ASSET(model_dir, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  const auto tok = load_tokenizer(model_dir);
  const Model model = load_model(model_dir);
  const McTask task = load_zeroshot_task("winogrande", data, {.limit = 3});
  ZeroshotOptions o;
  o.max_length = 24;
  o.progress = false;
  const auto sc = score_task(model, *tok, task, o);
  for (size_t e = 0; e < task.examples.size(); ++e) {
    for (size_t k = 0; k < task.examples[e].requests.size(); ++k) {
      const auto& rq = task.examples[e].requests[k];
      const EncodedPair p = encode_pair(*tok, rq.context, rq.continuation, true);
      std::vector<int32_t> all = p.context;
      all.insert(all.end(), p.continuation.begin(), p.continuation.end());
      ASSERT_GT(all.size(), 25u);  // truncation happens
      std::vector<int32_t> in(all.end() - 25, all.end() - 1);
      const Tensor logits = forward(model, in, {1, int64_t(in.size())});
      double ll = 0;
      const size_t n = p.continuation.size();
      for (size_t j = 0; j < n; ++j) {
        const float* l = logits.row(int64_t(in.size() - n + j));
        double z = 0;
        const float mx = *std::max_element(l, l + logits.cols());
        for (int64_t v = 0; v < logits.cols(); ++v) z += std::exp(double(l[v]) - double(mx));
        ll += double(l[p.continuation[j]]) - double(mx) - std::log(z);
      }
      EXPECT_NEAR(sc[e].choices[k].loglik, ll, 1e-5 + 1e-6 * double(n)) << e << " " << k;
    }
  }
  o.max_length = 4;  // shorter than a continuation: an error naming the file
  EXPECT_THROW(score_task(model, *tok, task, o), Error);
}

// Metrics on a hand-made task: acc / acc_norm as the harness aggregates them, and the paper's Acc.
TEST(GoldenZeroshot, MetricsAndPaperAverage) {
  const std::vector<double> x = {1, 0, 0, 1, 1};
  const auto m = mean_stderr(x);
  EXPECT_DOUBLE_EQ(m.mean, 0.6);
  EXPECT_NEAR(m.se, std::sqrt(0.6 * 0.4 / 4), 1e-15);  // sqrt(p(1-p)/(n-1)) for 0/1 values
  EXPECT_TRUE(std::isnan(mean_stderr(std::vector<double>{1.0}).se));
  EXPECT_EQ(char_count("caf\xc3\xa9 \xe2\x82\xac"), 6);
  std::vector<TaskResult> r(5);
  const std::vector<std::string> names = {"arc_easy", "arc_challenge", "piqa", "hellaswag",
                                          "winogrande"};
  for (size_t i = 0; i < 5; ++i) {
    r[i].name = names[i];
    r[i].acc = 0.1 * double(i + 1);
    r[i].acc_norm = 0.5;
  }
  // arc_easy acc 0.1, arc_challenge acc_norm 0.5, piqa acc 0.3, hellaswag acc_norm 0.5, winogrande
  // 0.5.
  EXPECT_NEAR(paper_acc_avg(r), (0.1 + 0.5 + 0.3 + 0.5 + 0.5) / 5, 1e-15);
  json out;
  nlohmann::ordered_json o;
  add_zeroshot_json(o, r);
  EXPECT_NEAR(o.at("acc_mean").get<double>(), 0.3, 1e-15);
  EXPECT_EQ(o.at("tasks").size(), 5u);
}

}  // namespace
}  // namespace loaq
