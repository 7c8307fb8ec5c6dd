// The single-process side of src/dist (the multi-process side runs under mpirun in
// tests/mpi_test.cc): splits, the chained sum's call order, the launcher's environment, the fault
// hook.
#include "dist/dist.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "core/error.h"

namespace loaq::dist {
namespace {

TEST(DistSplit, ContiguousBalancedCovering) {
  for (int64_t n : {0, 1, 2, 3, 7, 13, 100})
    for (int parts : {1, 2, 3, 4, 7}) {
      int64_t next = 0;
      for (int i = 0; i < parts; ++i) {
        const Range r = split(n, parts, i);
        EXPECT_EQ(r.begin, next) << n << " " << parts << " " << i;
        EXPECT_GE(r.size(), n / parts);
        EXPECT_LE(r.size(), n / parts + 1);
        EXPECT_EQ(r.size(), n / parts + (i < n % parts ? 1 : 0));
        next = r.end;
      }
      EXPECT_EQ(next, n);
    }
  EXPECT_EQ(split(7, 3, 0), (Range{0, 3}));
  EXPECT_EQ(split(7, 3, 2), (Range{5, 7}));
  EXPECT_THROW(split(5, 2, 2), Error);
}

TEST(DistSplit, SingleProcessOwnsAll) {
  EXPECT_EQ(size(), 1);
  EXPECT_TRUE(is_root());
  EXPECT_EQ(my_range(9), (Range{0, 9}));
  EXPECT_EQ(my_items(13, 4), (Range{0, 13}));
  EXPECT_EQ(items_all(13, 4).size(), 1u);
  EXPECT_EQ(owner_of(8, 9), 0);
}

TEST(DistOwners, SingleProcessOwnsEverything) {
  const std::vector<double> costs = {3.3, 2.8, 15.5, 56.0};
  EXPECT_EQ(assign_owners(costs), (std::vector<int>{0, 0, 0, 0}));
  EXPECT_TRUE(assign_owners({}).empty());
}

TEST(DistOrderedSum, SingleProcessAddsChunksInOrder) {
  std::vector<double> sum(3, 1.0);  // the initial value is kept
  std::vector<int64_t> order;
  ordered_sum(sum, 4, [&](int64_t c, int64_t offset, std::span<double> seg) {
    EXPECT_EQ(offset, 0);
    order.push_back(c);
    for (auto& v : seg) v = v * 10 + double(c);  // not commutative: the order shows in the value
  });
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(sum[0], 10123.0);
  const std::vector<double> p0 = {1e16, 0, 0}, p1 = {1.0, 0, 0}, p2 = {-1e16, 0, 0};
  const std::vector<std::span<const double>> mine = {p0, p1, p2};
  std::vector<double> s(3, 0.0);
  ordered_sum(s, 3, mine);
  EXPECT_EQ(s[0], (0.0 + 1e16 + 1.0) - 1e16);    // = 0: left to right, not 1e16 - 1e16 + 1
  EXPECT_THROW(ordered_sum(s, 2, mine), Error);  // 3 partials for 2 chunks
}

TEST(DistLauncher, EnvironmentAndFaultHook) {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS",
                        "PMIX_RANK", "PMI_RANK"})
    ASSERT_EQ(std::getenv(v), nullptr) << v << " is set: this test runs outside mpirun";
  EXPECT_EQ(launcher_size(), 0);
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  EXPECT_EQ(launcher_size(), 4);
  unsetenv("OMPI_COMM_WORLD_SIZE");
  setenv("PMIX_RANK", "2", 1);
  EXPECT_EQ(launcher_size(), 3);
  unsetenv("PMIX_RANK");
  setenv("PMI_SIZE", "junk", 1);
  EXPECT_EQ(launcher_size(), 0);
  unsetenv("PMI_SIZE");

  EXPECT_NO_THROW(test_fault_point("x"));
  setenv("LOAQ_TEST_FAIL_RANK", "0", 1);
  EXPECT_THROW(test_fault_point("x"), Error);
  setenv("LOAQ_TEST_FAIL_AT", "y", 1);
  EXPECT_NO_THROW(test_fault_point("x"));
  EXPECT_THROW(test_fault_point("y"), Error);
  setenv("LOAQ_TEST_FAIL_RANK", "1", 1);
  EXPECT_NO_THROW(test_fault_point("y"));
  unsetenv("LOAQ_TEST_FAIL_RANK");
  unsetenv("LOAQ_TEST_FAIL_AT");
}

TEST(DistComm, SingleProcessMovesNothing) {
  reset_comm_stats();
  std::vector<double> b(4, 1.0);
  broadcast(b, 0);
  const auto all = gather_comm_stats();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].bytes, 0);
}

}  // namespace
}  // namespace loaq::dist
