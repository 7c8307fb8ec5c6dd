// GPTQ v1 packing against words computed by hand from the format's definition (AutoGPTQ
// qlinear_cuda.py: pack() and the unpacking in forward()).
#include "export/gptq_pack.h"

#include <gtest/gtest.h>

#include <random>

#include "core/error.h"

namespace loaq {
namespace {

uint32_t u(int32_t w) {
  return static_cast<uint32_t>(w);
}

TEST(GptqPack, FourBitsEightPerWordLowNibbleFirst) {
  std::vector<uint32_t> v(32);
  for (int i = 0; i < 32; ++i) v[size_t(i)] = uint32_t(i % 16);
  const auto p = gptq_pack_rows(v, 32, 1, 4);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(u(p[0]), 0x76543210u);
  EXPECT_EQ(u(p[1]), 0xfedcba98u);
  EXPECT_EQ(u(p[2]), 0x76543210u);
  EXPECT_EQ(u(p[3]), 0xfedcba98u);
}

TEST(GptqPack, TwoAndEightBits) {
  std::vector<uint32_t> v(32, 0);
  v[0] = 3;
  v[15] = 1;
  v[16] = 2;
  const auto p2 = gptq_pack_rows(v, 32, 1, 2);
  ASSERT_EQ(p2.size(), 2u);
  EXPECT_EQ(u(p2[0]), 3u | (1u << 30));
  EXPECT_EQ(u(p2[1]), 2u);
  std::vector<uint32_t> w(32);
  for (int i = 0; i < 32; ++i) w[size_t(i)] = uint32_t(255 - i);
  const auto p8 = gptq_pack_rows(w, 32, 1, 8);
  ASSERT_EQ(p8.size(), 8u);
  EXPECT_EQ(u(p8[0]), 0xfcfdfeffu);
  EXPECT_EQ(u(p8[7]), 0xe0e1e2e3u);
}

// 3 bits: 32 values in 3 words; values 10 and 21 straddle words (AutoGPTQ's unpack reassembles
// them as (w0 >> 30 & 3) | (w1 << 2 & 4) and (w1 >> 31 & 1) | (w2 << 1 & 6)).
uint32_t unpack3(const uint32_t w[3], int k) {
  if (k < 10) return (w[0] >> (3 * k)) & 7;
  if (k == 10) return ((w[0] >> 30) & 3) | ((w[1] << 2) & 4);
  if (k < 21) return (w[1] >> (3 * (k - 11) + 1)) & 7;
  if (k == 21) return ((w[1] >> 31) & 1) | ((w[2] << 1) & 6);
  return (w[2] >> (3 * (k - 22) + 2)) & 7;
}

TEST(GptqPack, ThreeBitsCrossWord) {
  std::mt19937 rng(7);
  const int64_t rows = 64, cols = 5;
  std::vector<uint32_t> v(size_t(rows * cols));
  for (auto& x : v) x = rng() % 8;
  const auto p = gptq_pack_rows(v, rows, cols, 3);
  ASSERT_EQ(p.size(), size_t(rows / 32 * 3 * cols));
  for (int64_t run = 0; run < rows / 32; ++run)
    for (int64_t c = 0; c < cols; ++c) {
      const uint32_t w[3] = {u(p[size_t((run * 3 + 0) * cols + c)]),
                             u(p[size_t((run * 3 + 1) * cols + c)]),
                             u(p[size_t((run * 3 + 2) * cols + c)])};
      for (int k = 0; k < 32; ++k)
        ASSERT_EQ(unpack3(w, k), v[size_t((run * 32 + k) * cols + c)]) << run << " " << k;
    }
  // All-ones values set every bit of the 3 words.
  std::vector<uint32_t> ones(32, 7);
  for (int32_t w : gptq_pack_rows(ones, 32, 1, 3)) EXPECT_EQ(u(w), 0xffffffffu);
  // Along columns (qzeros): the same stream per row.
  const auto pc = gptq_pack_cols(v, 2, 160, 3);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t run = 0; run < 5; ++run) {
      const uint32_t w[3] = {u(pc[size_t(r * 15 + run * 3)]), u(pc[size_t(r * 15 + run * 3 + 1)]),
                             u(pc[size_t(r * 15 + run * 3 + 2)])};
      for (int k = 0; k < 32; ++k) ASSERT_EQ(unpack3(w, k), v[size_t(r * 160 + run * 32 + k)]);
    }
}

TEST(GptqPack, RefusesWhatTheFormatCannotHold) {
  std::vector<uint32_t> v(48, 0);
  EXPECT_THROW(gptq_pack_rows(v, 48, 1, 4), Error);  // rows not a multiple of 32
  EXPECT_THROW(gptq_pack_cols(v, 1, 48, 4), Error);
  std::vector<uint32_t> w(32, 0);
  w[3] = 16;
  EXPECT_THROW(gptq_pack_rows(w, 32, 1, 4), Error);  // value does not fit
  EXPECT_THROW(gptq_pack_rows(std::vector<uint32_t>(32, 0), 32, 1, 5), Error);
  EXPECT_FALSE(gptq_bits_supported(6));
}

}  // namespace
}  // namespace loaq
