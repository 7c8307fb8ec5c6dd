// parse_size (export/shards.h): the units against their definitions, and every malformed or
// out-of-range size refused with the size in the message.
#include "export/shards.h"

#include <gtest/gtest.h>

#include <limits>

#include "expect_error.h"

namespace loaq {
namespace {

TEST(ParseSize, UnitsAreDecimalOrBinaryAsNamed) {
  EXPECT_EQ(parse_size("123"), 123u);
  EXPECT_EQ(parse_size("7B"), 7u);
  EXPECT_EQ(parse_size("200KB"), 200'000u);
  EXPECT_EQ(parse_size("5GB"), 5'000'000'000u);
  EXPECT_EQ(parse_size("3mb"), 3'000'000u);
  EXPECT_EQ(parse_size("2KiB"), 2048u);
  EXPECT_EQ(parse_size("1MiB"), 1048576u);
  EXPECT_EQ(parse_size("4GiB"), 4ull * 1024 * 1024 * 1024);
}

TEST(ParseSize, LargestAcceptedIsInt64Max) {
  const auto max = uint64_t(std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parse_size(std::to_string(max / 1'000'000'000) + "GB"),
            max / 1'000'000'000 * 1'000'000'000);
  test::expect_error([&] { parse_size(std::to_string(max / 1'000'000'000 + 1) + "GB"); },
                     {"too large"});
  test::expect_error([] { parse_size("999999999999999999GiB"); },
                     {"999999999999999999GiB", "too large"});
}

TEST(ParseSize, MalformedSizesAreRefused) {
  test::expect_error([] { parse_size(""); }, {"expected a number of bytes"});
  test::expect_error([] { parse_size("GB"); }, {"'GB'", "expected a number"});
  test::expect_error([] { parse_size("-5GB"); }, {"expected a number"});
  test::expect_error([] { parse_size("1234567890123456789"); }, {"expected a number"});
  test::expect_error([] { parse_size("5TB"); }, {"unknown unit 'TB'"});
  test::expect_error([] { parse_size("5 GB"); }, {"unknown unit ' GB'"});
  test::expect_error([] { parse_size("0MB"); }, {"must be positive"});
}

}  // namespace
}  // namespace loaq
