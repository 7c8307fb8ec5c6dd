// Dequantization of a linear stored as integer state (quant_state.safetensors), against values
// worked out by hand, for unsigned and signed codes, grouped columns in a permuted (act-order)
// g_idx; and the refusals of a state that does not describe a weight.
#include "io/quant_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/error.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

struct TempFile {
  fs::path p = fs::temp_directory_path() /
               ("loaq_quant_state_" + std::to_string(::getpid()) + ".safetensors");
  ~TempFile() { fs::remove(p); }
};

// One linear "l" [2, 4] with 2 groups; the columns' groups are {1, 0, 0, 1}.
struct State {
  std::vector<uint8_t> codes = {0, 1, 2, 3, 3, 2, 1, 0};
  DType code_dtype = DType::U8;
  std::vector<float> scale = {0.5f, 2.0f, 0.25f, 1.0f};  // [out, groups]
  std::vector<float> zero = {1.0f, 2.0f, 0.0f, 3.0f};
  std::vector<int32_t> g_idx = {1, 0, 0, 1};
  std::vector<int32_t> perm = {3, 0, 1, 2};
  std::vector<int64_t> scale_shape = {2, 2};

  SafetensorsSet write(const fs::path& p) const {
    write_safetensors(p.string(),
                      {{"l.codes", code_dtype, {2, 4}, std::as_bytes(std::span(codes))},
                       {"l.scale", DType::F32, scale_shape, std::as_bytes(std::span(scale))},
                       {"l.zero", DType::F32, scale_shape, std::as_bytes(std::span(zero))},
                       {"l.g_idx", DType::I32, {4}, std::as_bytes(std::span(g_idx))},
                       {"l.perm", DType::I32, {4}, std::as_bytes(std::span(perm))}});
    return SafetensorsSet::single(p.string());
  }
};

std::string error_of(const SafetensorsSet& s) {
  try {
    (void)dequantize_linear(s, "l");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(QuantState, DequantizesUnsignedCodesByTheirColumnsGroups) {
  TempFile f;
  const SafetensorsSet s = State{}.write(f.p);
  EXPECT_TRUE(has_linear_state(s, "l"));
  EXPECT_FALSE(has_linear_state(s, "m"));
  EXPECT_EQ(linear_state_shape(s, "l"), (std::vector<int64_t>{2, 4}));
  const Tensor w = dequantize_linear(s, "l");
  ASSERT_EQ(w.shape, (std::vector<int64_t>{2, 4}));
  // Row 0: groups (scale, zero) = g0 (0.5, 1), g1 (2, 2); row 1: g0 (0.25, 0), g1 (1, 3).
  //   [2·(0−2), 0.5·(1−1), 0.5·(2−1), 2·(3−2)] and [1·(3−3), 0.25·2, 0.25·1, 1·(0−3)].
  const std::vector<float> want = {-4.0f, 0.0f, 0.5f, 2.0f, 0.0f, 0.5f, 0.25f, -3.0f};
  EXPECT_EQ(w.data, want);
}

TEST(QuantState, DequantizesSignedCodes) {
  TempFile f;
  State st;
  const std::vector<int8_t> signed_codes = {-2, -1, 0, 1, 1, 0, -1, -2};
  std::memcpy(st.codes.data(), signed_codes.data(), 8);
  st.code_dtype = DType::I8;
  st.zero = {0.0f, 0.0f, 0.0f, 0.0f};
  const Tensor w = dequantize_linear(st.write(f.p), "l");
  const std::vector<float> want = {-4.0f, -0.5f, 0.0f, 2.0f, 1.0f, 0.0f, -0.25f, -2.0f};
  EXPECT_EQ(w.data, want);
}

TEST(QuantState, RefusesAStateThatDescribesNoWeight) {
  TempFile f;
  {
    State st;
    st.g_idx[2] = 2;  // only groups 0 and 1 exist
    const std::string e = error_of(st.write(f.p));
    EXPECT_NE(e.find("l.g_idx[2] = 2 is outside [0, 2)"), std::string::npos) << e;
    EXPECT_NE(e.find(f.p.string()), std::string::npos) << e;
  }
  {
    State st;
    st.scale_shape = {1, 4};  // not one row of groups per output
    const std::string e = error_of(st.write(f.p));
    EXPECT_NE(e.find("'l.scale' has shape [1, 4], expected [2, groups]"), std::string::npos) << e;
  }
  {
    State st;
    st.code_dtype = DType::I16;
    st.codes.resize(16);
    const std::string e = error_of(st.write(f.p));
    EXPECT_NE(e.find("'l.codes' has dtype I16, expected U8 or I8"), std::string::npos) << e;
  }
  {
    State st;
    st.scale[1] = std::numeric_limits<float>::max();  // finite, but 2 × it is not
    st.codes[0] = 4;
    const std::string e = error_of(st.write(f.p));
    EXPECT_NE(e.find("dequantizes to a non-finite value at [0, 0]"), std::string::npos) << e;
  }
  {
    State st;
    st.zero[0] = std::numeric_limits<float>::quiet_NaN();
    const std::string e = error_of(st.write(f.p));
    EXPECT_NE(e.find("non-finite"), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace loaq
