#include "eval/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>

namespace loaq {
namespace {

// NLL of each next token equals −log softmax(logits)[target], computed directly.
TEST(Perplexity, NextTokenNll) {
  Tensor logits({3, 4});
  logits.data = {1, 2, 3, 4, 100, 0, -100, 50, 0, 0, 0, 0};
  const std::vector<int32_t> ids = {7, 3, 0, 2};  // ids[t+1] is the target of row t
  double nll[2];
  next_token_nll(logits, 0, 3, ids, nll);
  auto direct = [&](int r, int target) {
    double s = 0;
    for (int j = 0; j < 4; ++j) s += std::exp(double(logits.data[size_t(r * 4 + j)]));
    return -std::log(std::exp(double(logits.data[size_t(r * 4 + target)])) / s);
  };
  EXPECT_NEAR(nll[0], direct(0, 3), 1e-7);  // exp in float (vexpf), sums in double
  // Row 1 targets its largest logit (100): nll = log(1 + e^-50 + e^-100 + e^-200), no overflow.
  EXPECT_NEAR(nll[1], std::log1p(std::exp(-50.0) + std::exp(-100.0) + std::exp(-200.0)), 1e-15);
}

}  // namespace
}  // namespace loaq
