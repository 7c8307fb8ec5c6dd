// The block formats: pack ∘ unpack is the identity on the bytes the reference quantizer writes,
// dequantization is close to the input (error bounded by the grid step), codes stay in range.
// Byte identity with llama.cpp itself is tests/gguf_llama_cpp_test.cc.
#include "quant/gguf_block.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace loaq {
namespace {

std::vector<float> sample(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.02f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = g(rng);
  for (int64_t i = 0; i < n; i += 97) x[size_t(i)] *= 6.0f;  // outliers
  for (int64_t i = 0; i < 32; ++i) x[size_t(i)] = 0.0f;      // an all-zero block
  return x;
}

TEST(GgufBlock, PackUnpackRoundTripAndAccuracy) {
  const int64_t n = 4096;
  const auto x = sample(n, 7);
  for (GgmlType t : gguf_block_types()) {
    const auto& info = ggml_type_info(t);
    const auto* f = gguf_block_format(t);
    SCOPED_TRACE(info.name);
    const auto bytes = gguf_quantize_ref(t, x.data(), n);
    ASSERT_EQ(int64_t(bytes.size()), n / info.block * info.bytes);
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    for (int64_t i = 0; i < n / info.block; ++i) {
      GgufBlock b;
      f->unpack(p + i * info.bytes, b);
      for (int j = 0; j < f->block; ++j) {
        ASSERT_GE(b.q[j], f->qmin);
        ASSERT_LE(b.q[j], f->qmax);
      }
      std::vector<uint8_t> again(size_t(info.bytes));
      f->pack(b, again.data());
      ASSERT_EQ(std::memcmp(again.data(), p + i * info.bytes, size_t(info.bytes)), 0) << i;
    }
    std::vector<float> y(static_cast<size_t>(n));
    gguf_dequantize(t, bytes, y.data(), n);
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; ++i) {
      err += double(y[size_t(i)] - x[size_t(i)]) * double(y[size_t(i)] - x[size_t(i)]);
      ref += double(x[size_t(i)]) * double(x[size_t(i)]);
    }
    const double rel = std::sqrt(err / ref);
    // Relative RMS error of round-to-nearest at b bits on Gaussian data with outliers.
    const double bound = t == GgmlType::Q2_K ? 0.6 : t == GgmlType::Q3_K ? 0.35 : 0.2;
    EXPECT_LT(rel, bound);
    EXPECT_GT(rel, 0.0);
    for (int i = 0; i < 32; ++i) EXPECT_EQ(y[size_t(i)], 0.0f);
  }
}

TEST(GgufBlock, MoreBitsLessError) {
  const int64_t n = 8192;
  const auto x = sample(n, 11);
  auto rel = [&](GgmlType t) {
    const auto bytes = gguf_quantize_ref(t, x.data(), n);
    std::vector<float> y(static_cast<size_t>(n));
    gguf_dequantize(t, bytes, y.data(), n);
    double e = 0;
    for (int64_t i = 0; i < n; ++i) e += std::pow(double(y[size_t(i)] - x[size_t(i)]), 2);
    return e;
  };
  EXPECT_LT(rel(GgmlType::Q8_0), rel(GgmlType::Q5_0));
  EXPECT_LT(rel(GgmlType::Q5_0), rel(GgmlType::Q4_0));
  EXPECT_LT(rel(GgmlType::Q5_1), rel(GgmlType::Q4_1));
  EXPECT_LT(rel(GgmlType::Q6_K), rel(GgmlType::Q5_K));
  EXPECT_LT(rel(GgmlType::Q5_K), rel(GgmlType::Q4_K));
  EXPECT_LT(rel(GgmlType::Q4_K), rel(GgmlType::Q3_K));
  EXPECT_LT(rel(GgmlType::Q3_K), rel(GgmlType::Q2_K));
}

// Importance weights as an imatrix holds them: a mean square per column, a few columns far
// heavier than the rest.
std::vector<float> importance(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  std::vector<float> w(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) w[size_t(i)] = u(rng) * (i % 5 == 0 ? 50.0f : 1.0f);
  return w;
}

// With an imatrix, the weighted quantizers (llama.cpp's quantize_row_*_impl) give valid blocks
// whose error weighted by the imatrix is below the reference quantizer's; Q8_0 ignores it, as
// llama.cpp does. Byte identity with llama-quantize --imatrix:
// tests/gguf_imatrix_llama_cpp_test.cc.
TEST(GgufBlock, ImatrixWeightedFit) {
  const int64_t rows = 8, cols = 1024;
  const auto x = sample(rows * cols, 5);
  const auto qw = importance(cols, 9);
  auto weighted_err = [&](GgmlType t, const std::vector<std::byte>& bytes) {
    std::vector<float> y(x.size());
    gguf_dequantize(t, bytes, y.data(), int64_t(y.size()));
    double e = 0;
    for (size_t i = 0; i < y.size(); ++i)
      e += double(qw[i % size_t(cols)]) * std::pow(double(y[i]) - x[i], 2);
    return e;
  };
  for (GgmlType t : gguf_block_types()) {
    const auto& info = ggml_type_info(t);
    const auto* f = gguf_block_format(t);
    SCOPED_TRACE(info.name);
    const auto ref = gguf_quantize(t, x.data(), rows, cols, nullptr);
    EXPECT_EQ(ref, gguf_quantize_ref(t, x.data(), rows * cols));
    const auto wtd = gguf_quantize(t, x.data(), rows, cols, qw.data());
    ASSERT_EQ(wtd.size(), ref.size());
    if (!f->quantize_imatrix) {
      EXPECT_EQ(t, GgmlType::Q8_0);
      EXPECT_EQ(wtd, ref);
      continue;
    }
    EXPECT_NE(wtd, ref);
    const auto* p = reinterpret_cast<const uint8_t*>(wtd.data());
    for (int64_t i = 0; i < rows * cols / info.block; ++i) {
      GgufBlock b;
      f->unpack(p + i * info.bytes, b);
      std::vector<uint8_t> again(size_t(info.bytes));
      f->pack(b, again.data());
      ASSERT_EQ(std::memcmp(again.data(), p + i * info.bytes, size_t(info.bytes)), 0) << i;
    }
    EXPECT_LT(weighted_err(t, wtd), weighted_err(t, ref));
  }
}

// The row statistic the 32-element weighted quantizers take: Σx²/n over the whole row.
TEST(GgufBlock, RowSigma2) {
  const float x[4] = {1.0f, -2.0f, 0.5f, 0.0f};
  EXPECT_EQ(gguf_row_sigma2(x, 4), (1.0f + 4.0f + 0.25f) / 4.0f);
  // A 32-element type's weighted fit of a block depends on the rest of its row, a K-quant's
  // does not.
  auto x2 = sample(512, 3);
  const auto qw = importance(512, 4);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_K}) {
    const auto a = gguf_quantize(t, x2.data(), 1, 512, qw.data());
    auto y = x2;
    for (int64_t i = 256; i < 512; ++i) y[size_t(i)] *= 3.0f;
    const auto b = gguf_quantize(t, y.data(), 1, 512, qw.data());
    const size_t first = size_t(256 / ggml_type_info(t).block * ggml_type_info(t).bytes);
    const bool same = std::equal(a.begin(), a.begin() + std::ptrdiff_t(first), b.begin());
    EXPECT_EQ(same, t == GgmlType::Q4_K) << ggml_type_info(t).name;
  }
}

TEST(GgufBlock, FloatTypes) {
  const float x[4] = {1.0f, -2.5f, 65504.0f, 1e-8f};
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
    const auto b = gguf_quantize_ref(t, x, 4);
    float y[4];
    gguf_dequantize(t, b, y, 4);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -2.5f);
  }
  EXPECT_FALSE(gguf_codec_supported(GgmlType::IQ2_XS));
}

}  // namespace
}  // namespace loaq
