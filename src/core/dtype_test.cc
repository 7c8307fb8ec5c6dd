#include "core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace loaq {
namespace {

TEST(DType, ParseAndSize) {
  EXPECT_EQ(parse_dtype("BF16"), DType::BF16);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_FALSE(parse_dtype("F8_E9M9").has_value());
}

// Every one of the 65536 half values: f16 → f32 → f16 is the identity (NaNs stay NaN), and
// f16_to_f32 agrees with the closed form (-1)^s · 2^(e-15) · (1 + m/1024).
TEST(DType, F16RoundTripAllValues) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(uint16_t(h));
    const uint32_t e = (h >> 10) & 31, mant = h & 1023;
    if (e == 31) {
      EXPECT_TRUE(mant ? std::isnan(f) : std::isinf(f));
      continue;
    }
    const double mag = e == 0 ? std::ldexp(double(mant), -24) : std::ldexp(1.0 + mant / 1024.0, int(e) - 15);
    EXPECT_EQ(double(f), (h & 0x8000) ? -mag : mag) << h;
    EXPECT_EQ(f32_to_f16(f), uint16_t(h)) << h;
  }
}

// Rounding to nearest even at the midpoint between two halves, and overflow to inf.
TEST(DType, F16Rounding) {
  const float one = 1.0f, ulp = std::ldexp(1.0f, -10);
  EXPECT_EQ(f32_to_f16(one + ulp / 2), f32_to_f16(one));             // tie → even (1.0)
  EXPECT_EQ(f32_to_f16(one + 1.5f * ulp), f32_to_f16(one + 2 * ulp));  // tie → even
  EXPECT_EQ(f32_to_f16(one + 0.51f * ulp), f32_to_f16(one + ulp));
  EXPECT_EQ(f32_to_f16(70000.0f), 0x7c00);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25) * 1.5f), 0x0001);  // subnormal rounding
}

TEST(DType, BF16) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie → even
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_f32(uint16_t(h));
    if (!std::isnan(f)) {
      EXPECT_EQ(f32_to_bf16(f), uint16_t(h));
    }
  }
}

}  // namespace
}  // namespace loaq
