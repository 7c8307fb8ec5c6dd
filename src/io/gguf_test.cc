// The GGUF container: a written file read back (metadata of each kind, tensors at aligned offsets,
// the bytes), and one damaged file per validation rule of the reader, each a loaq::Error naming
// the file and what is wrong.
#include "io/gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("loaq-gguf-test-" + std::to_string(::getpid()) + name))
      .string();
}

std::vector<std::byte> iota_bytes(size_t n, int start) {
  std::vector<std::byte> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = std::byte(uint8_t(start + int(i)));
  return b;
}

std::string write_sample(const std::string& path) {
  std::vector<std::pair<std::string, GgufValue>> kv = {
      {"general.architecture", GgufValue::str("llama")},
      {"llama.block_count", GgufValue::u32(2)},
      {"llama.rope.freq_base", GgufValue::f32(10000.0f)},
      {"tokenizer.ggml.add_bos_token", GgufValue::boolean(true)},
      {"tokenizer.ggml.tokens", GgufValue::array_str({"<s>", "a", ""})},
      {"tokenizer.ggml.scores", GgufValue::array_f32({0.0f, -1.5f, 2.0f})},
      {"tokenizer.ggml.token_type", GgufValue::array_i32({3, 1, 6})},
      {"big", GgufValue::u64(uint64_t(1) << 63)},
  };
  std::vector<GgufTensorSpec> specs = {{"a", {32, 3}, GgmlType::Q8_0},  // 3 × 34 bytes
                                       {"b", {5}, GgmlType::F32}};
  write_gguf(path, kv, specs,
             [](size_t i) { return i == 0 ? iota_bytes(102, 1) : iota_bytes(20, 7); });
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

TEST(Gguf, RoundTrip) {
  const auto path = temp_path("-rt.gguf");
  const std::string raw = write_sample(path);
  {
    GgufFile g(path);
    const auto& h = g.header();
    EXPECT_EQ(h.get_str("general.architecture", path), "llama");
    EXPECT_EQ(h.get_int("llama.block_count", path), 2);
    EXPECT_FLOAT_EQ(float(h.get_float("llama.rope.freq_base", path)), 10000.0f);
    EXPECT_EQ(h.find("tokenizer.ggml.add_bos_token")->type, GgufValueType::BOOL);
    EXPECT_EQ(h.find("tokenizer.ggml.tokens")->strings, (std::vector<std::string>{"<s>", "a", ""}));
    EXPECT_EQ(h.find("tokenizer.ggml.scores")->floats, (std::vector<double>{0.0, -1.5, 2.0}));
    EXPECT_EQ(h.find("tokenizer.ggml.token_type")->ints, (std::vector<int64_t>{3, 1, 6}));
    EXPECT_EQ(uint64_t(h.find("big")->ints[0]), uint64_t(1) << 63);
    ASSERT_EQ(h.tensors.size(), 2u);
    EXPECT_EQ(h.tensors[0].ne, (std::vector<int64_t>{32, 3}));
    EXPECT_EQ(h.tensors[0].nbytes, 102u);
    EXPECT_EQ(h.tensors[1].offset, 128u);  // 102 rounded up to the alignment 32
    EXPECT_EQ(h.data_offset % 32, 0u);
    auto a = g.data(h.tensors[0]);
    auto b = g.data(*h.tensor("b"));
    EXPECT_EQ(std::vector<std::byte>(a.begin(), a.end()), iota_bytes(102, 1));
    EXPECT_EQ(std::vector<std::byte>(b.begin(), b.end()), iota_bytes(20, 7));
  }
  EXPECT_EQ(raw.substr(0, 4), "GGUF");
  EXPECT_EQ(raw.size() % 32, 0u);
  fs::remove(path);
}

TEST(Gguf, WriterChecksTensorSizes) {
  const auto path = temp_path("-bad.gguf");
  EXPECT_THROW(write_gguf(path, {}, {{"a", {32}, GgmlType::Q4_0}},
                          [](size_t) { return std::vector<std::byte>(17); }),
               Error);
  EXPECT_THROW(write_gguf(path, {}, {{"a", {31}, GgmlType::Q4_0}},
                          [](size_t) { return std::vector<std::byte>(18); }),
               Error);
  EXPECT_FALSE(fs::exists(path));
}

// Expects parse_gguf of `bytes` to throw a loaq::Error whose message contains `what`.
void expect_rejected(const std::string& bytes, const std::string& what) {
  try {
    parse_gguf({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "x.gguf");
    ADD_FAILURE() << "accepted; expected an error about " << what;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.gguf"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

template <class T>
void poke(std::string& s, size_t at, T v) {
  std::memcpy(s.data() + at, &v, sizeof(v));
}

TEST(Gguf, ReaderRejectsDamagedFiles) {
  const auto path = temp_path("-dmg.gguf");
  const std::string good = write_sample(path);
  fs::remove(path);
  // Offsets in the sample: magic 0, version 4, tensor count 8, kv count 16, first key at 24.
  expect_rejected("", "not a GGUF file");
  expect_rejected("GGUF", "truncated");
  std::string s = good;
  poke<uint32_t>(s, 4, 2);
  expect_rejected(s, "version 2");
  s = good;
  poke<uint64_t>(s, 16, uint64_t(1) << 60);
  expect_rejected(s, "metadata count");
  s = good;
  poke<uint64_t>(s, 8, uint64_t(1) << 40);
  expect_rejected(s, "tensor count");
  s = good;
  poke<uint64_t>(s, 24, uint64_t(1) << 40);  // key length
  expect_rejected(s, "above the limit");
  s = good;
  poke<uint64_t>(s, 24, 1000);
  expect_rejected(s, "truncated");
  s = good;
  poke<uint32_t>(s, 24 + 8 + 20, 13);  // the first value type (key "general.architecture")
  expect_rejected(s, "unknown value type 13");
  // The last tensor (20 bytes) is followed by 12 bytes of padding.
  for (size_t cut : {size_t(40), good.size() / 2, good.size() - 13}) {
    expect_rejected(good.substr(0, cut), cut == good.size() - 13 ? "past the end" : "");
  }
  // The tensor infos: find "a" by its length prefix near the end of the header.
  const std::string a_info = std::string("\x01\0\0\0\0\0\0\0a", 9);
  const size_t ti = good.rfind(a_info);
  ASSERT_NE(ti, std::string::npos);
  const size_t nd = ti + 9, ne0 = nd + 4, type = ne0 + 16, off = type + 4;
  s = good;
  poke<uint32_t>(s, nd, 5);
  expect_rejected(s, "5 dimensions");
  s = good;
  poke<uint64_t>(s, ne0, 0);
  expect_rejected(s, "dimension 0 is 0");
  s = good;
  poke<uint64_t>(s, ne0, 33);
  expect_rejected(s, "multiple of 32");
  s = good;
  poke<uint32_t>(s, type, 4);
  expect_rejected(s, "unknown ggml type 4");
  s = good;
  poke<uint64_t>(s, off, 8);
  expect_rejected(s, "not a multiple of the alignment");
  s = good;
  poke<uint64_t>(s, off, 4096);
  expect_rejected(s, "past the end");
  const size_t tb = good.rfind(std::string("\x01\0\0\0\0\0\0\0b", 9));
  ASSERT_NE(tb, std::string::npos);
  s = good;
  poke<uint64_t>(s, tb + 9 + 4 + 8 + 4, 64);  // b's offset inside a's 102 bytes
  expect_rejected(s, "overlap");
  s = good;
  s[tb + 8] = 'a';
  expect_rejected(s, "appears twice");
}

TEST(Gguf, TypeTable) {
  EXPECT_EQ(ggml_type_info(GgmlType::Q4_K).bytes, 144);
  EXPECT_EQ(ggml_type_by_name("Q6_K")->type, GgmlType::Q6_K);
  EXPECT_EQ(ggml_type_info(4u), nullptr);
  EXPECT_EQ(ggml_nbytes(GgmlType::Q4_0, {64, 3}, "t"), 6u * 18u);
}

}  // namespace
}  // namespace loaq
