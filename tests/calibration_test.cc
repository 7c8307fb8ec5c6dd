// Calibration sampling as GPTQ's get_c4 does it: seeded, every window a contiguous run of one
// document's tokens (with BOS as the tokenizer adds it), and the held-out split disjoint from the
// c4-head documents.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_assets.h"
#include "text/calibration.h"
#include "text/datasets.h"

namespace loaq {
namespace {

TEST(Calibration, SeededWindowsOfSingleDocuments) {
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  const auto tok = load_tokenizer(model);
  CalibConfig c;
  c.nsamples = 6;
  c.seqlen = 128;
  const CalibSet a = sample_calibration(*tok, c, data), b = sample_calibration(*tok, c, data);
  EXPECT_EQ(a.ids, b.ids);
  c.seed = 1;
  EXPECT_NE(sample_calibration(*tok, c, data).ids, a.ids);
  ASSERT_EQ(a.ids.size(), 6u * 128u);
  // Each window occurs in the token ids of some document.
  const auto docs = read_jsonl_texts(c4_train_path(data));
  for (int64_t s = 0; s < a.nsamples; ++s) {
    const auto w0 = a.ids.begin() + s * a.seqlen, w1 = w0 + a.seqlen;
    bool found = false;
    for (const auto& d : docs) {
      if (int64_t(d.size()) < a.seqlen) continue;
      const auto enc = tok->encode_with_special(d);
      if (std::search(enc.begin(), enc.end(), w0, w1) != enc.end()) {
        found = true;
        break;
      }
    }
    EXPECT_TRUE(found) << "window " << s;
  }
}

TEST(Calibration, HeldOutIsDisjointFromHead) {
  LOAQ_REQUIRE_ASSET(data, "data");
  const auto docs = read_jsonl_texts(c4_train_path(data));
  const EvalDataset held = load_eval_dataset("c4-heldout", data);
  // The held-out text is exactly the documents after the first kC4HeadDocs, joined with spaces.
  std::string want;
  for (size_t i = size_t(kC4HeadDocs); i < docs.size(); ++i) want += (want.empty() ? "" : " ") + docs[i];
  EXPECT_EQ(held.text, want);
  EXPECT_EQ(held.text.find(docs[size_t(kC4HeadDocs) - 1]), std::string::npos);
}

}  // namespace
}  // namespace loaq
