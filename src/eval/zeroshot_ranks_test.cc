// What the zero-shot split across ranks relies on: an example's scores do not depend on which
// examples share its forward batches, so scoring contiguous ranges separately (as the ranks do)
// gives the bits of one pass over the task.
#include "eval/zeroshot_ranks.h"

#include <gtest/gtest.h>

#include "test_assets.h"

namespace loaq {
namespace {

TEST(ZeroshotRanks, RangesScoredApartEqualOnePass) {
  LOAQ_REQUIRE_ASSET(model_dir, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  const auto tok = load_tokenizer(model_dir);
  const Model model = load_model(model_dir);
  const McTask task = load_zeroshot_task("arc_easy", data, {.limit = 30});
  ZeroshotOptions o;
  o.progress = false;
  o.batch_tokens = 256;  // several batches, so that the ranges cut them differently
  const auto whole = score_task_ranks(model, *tok, task, o);
  ASSERT_EQ(whole.size(), 30u);
  size_t e = 0;
  for (const auto& [b, end] : {std::pair{0, 7}, {7, 19}, {19, 30}}) {
    McTask sub = task;
    sub.examples.assign(task.examples.begin() + b, task.examples.begin() + end);
    const auto part = score_task(model, *tok, sub, o);
    for (const auto& s : part) {
      ASSERT_EQ(s.choices.size(), whole[e].choices.size());
      for (size_t c = 0; c < s.choices.size(); ++c) {
        EXPECT_EQ(s.choices[c].loglik, whole[e].choices[c].loglik) << "example " << e;
        EXPECT_EQ(s.choices[c].n_tokens, whole[e].choices[c].n_tokens);
      }
      EXPECT_EQ(s.pred, whole[e].pred);
      ++e;
    }
  }
}

}  // namespace
}  // namespace loaq
