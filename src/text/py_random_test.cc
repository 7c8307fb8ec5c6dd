#include "text/py_random.h"

#include <gtest/gtest.h>

namespace loaq {
namespace {

// Expected values printed by CPython 3.11:
//   random.seed(0); [random.randint(0, 1040) for _ in range(5)], random.getrandbits(32)
//   random.seed(42); [random.randint(0, 10**6) for _ in range(3)]
//   random.seed(2**40 + 5); [random.randint(0, 99) for _ in range(3)]
TEST(PyRandom, MatchesCPython) {
  PyRandom r0(0);
  for (int64_t want : {788, 861, 82, 530, 995}) EXPECT_EQ(r0.randint(0, 1040), want);
  EXPECT_EQ(r0.getrandbits(32), 1739178872u);
  PyRandom r42(42);
  for (int64_t want : {670487, 116739, 26225}) EXPECT_EQ(r42.randint(0, 1000000), want);
  PyRandom big((uint64_t(1) << 40) + 5);
  for (int64_t want : {64, 66, 34}) EXPECT_EQ(big.randint(0, 99), want);
}

}  // namespace
}  // namespace loaq
