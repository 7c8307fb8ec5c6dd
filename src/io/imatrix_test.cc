// llama.cpp's imatrix files: both formats read into the values llama-quantize uses (GGUF:
// in_sum2 / count per matrix, 1 for a matrix without tokens; legacy: stored / ncall), and one
// malformed file per rule, each a loaq::Error naming the file. Files llama-imatrix itself wrote:
// tests/gguf_imatrix_llama_cpp_test.cc.
#include "io/imatrix.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/gguf.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("loaq-imatrix-test-" + std::to_string(::getpid()) + name))
      .string();
}

std::vector<std::byte> f32_bytes(const std::vector<float>& v) {
  std::vector<std::byte> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

using Kv = std::vector<std::pair<std::string, GgufValue>>;

Kv imatrix_kv() {
  return {{"general.type", GgufValue::str("imatrix")},
          {"imatrix.datasets", GgufValue::array_str({"train.txt"})},
          {"imatrix.chunk_count", GgufValue::u32(3)},
          {"imatrix.chunk_size", GgufValue::u32(128)}};
}

struct T {
  std::string name;
  std::vector<int64_t> ne;
  std::vector<float> v;
  GgmlType type = GgmlType::F32;
};

std::string write_gguf_imatrix(const std::string& name, const Kv& kv, const std::vector<T>& ts) {
  const std::string path = temp_path(name);
  std::vector<GgufTensorSpec> specs;
  for (const auto& t : ts) specs.push_back({t.name, t.ne, t.type});
  write_gguf(path, kv, specs, [&](size_t i) {
    if (ts[i].type == GgmlType::F16) return std::vector<std::byte>(size_t(ts[i].ne[0]) * 2);
    return f32_bytes(ts[i].v);
  });
  return path;
}

// The legacy format, field by field.
struct Dat {
  std::string bytes;
  void i32(int32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); }
  void str(const std::string& s) {
    i32(int32_t(s.size()));
    bytes += s;
  }
  void floats(const std::vector<float>& v) {
    bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  }
  std::string write(const std::string& name) const {
    const std::string path = temp_path(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
};

void expect_error(const std::string& path, const std::string& what) {
  try {
    (void)read_imatrix(path);
    ADD_FAILURE() << "no error for " << what;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
  if (fs::is_regular_file(path)) fs::remove(path);
}

TEST(Imatrix, GgufValuesAreSumsOverCounts) {
  const std::vector<float> sums = {2.0f, 3.0f, 0.5f, 7.0f};
  // A stacked tensor of two matrices of 2 columns: the second saw no tokens.
  const std::string path =
      write_gguf_imatrix("-ok.gguf", imatrix_kv(),
                         {{"blk.0.ffn_up.weight.in_sum2", {2, 2}, {4.0f, 8.0f, 1.0f, 1.0f}},
                          {"blk.0.ffn_up.weight.counts", {1, 2}, {2.4f, 0.0f}},
                          {"blk.0.attn_q.weight.in_sum2", {4, 1}, sums},
                          {"blk.0.attn_q.weight.counts", {1, 1}, {3.0f}},
                          {"other", {1}, {1.0f}}});
  const Imatrix m = read_imatrix(path);
  EXPECT_FALSE(m.legacy);
  EXPECT_EQ(m.entries.size(), 2u);
  EXPECT_EQ(m.datasets, std::vector<std::string>{"train.txt"});
  EXPECT_EQ(m.chunk_count, 3);
  EXPECT_EQ(m.chunk_size, 128);
  const ImatrixEntry* q = m.find("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->n_mat, 1);
  for (size_t i = 0; i < sums.size(); ++i) EXPECT_EQ(q->values[i], sums[i] / 3.0f);
  const ImatrixEntry* up = m.find("blk.0.ffn_up.weight");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->n_mat, 2);
  // The count 2.4 is rounded to 2 first (llama.cpp's lround), a zero count gives 1.
  EXPECT_EQ(up->values, (std::vector<float>{2.0f, 4.0f, 1.0f, 1.0f}));
  EXPECT_EQ(m.find("other"), nullptr);
  fs::remove(path);
}

TEST(Imatrix, LegacyValuesAreStoredOverCalls) {
  Dat d;
  d.i32(2);
  d.str("blk.0.attn_q.weight");
  d.i32(3);  // ncall
  d.i32(2);
  d.floats({3.0f, 1.0f});
  d.str("blk.1.ffn_down.weight");
  d.i32(0);  // no calls: the values as stored
  d.i32(1);
  d.floats({0.25f});
  d.i32(5);  // chunk count
  d.str("wiki.txt");
  const std::string path = d.write("-ok.dat");
  const Imatrix m = read_imatrix(path);
  EXPECT_TRUE(m.legacy);
  EXPECT_EQ(m.chunk_count, 5);
  EXPECT_EQ(m.datasets, std::vector<std::string>{"wiki.txt"});
  ASSERT_NE(m.find("blk.0.attn_q.weight"), nullptr);
  EXPECT_EQ(m.find("blk.0.attn_q.weight")->values, (std::vector<float>{1.0f, 1.0f / 3.0f}));
  EXPECT_EQ(m.find("blk.1.ffn_down.weight")->values, std::vector<float>{0.25f});
  fs::remove(path);

  Dat bare;  // without the optional trailer
  bare.i32(1);
  bare.str("a");
  bare.i32(1);
  bare.i32(1);
  bare.floats({2.0f});
  const std::string p2 = bare.write("-bare.dat");
  EXPECT_EQ(read_imatrix(p2).chunk_count, 0);
  fs::remove(p2);
}

TEST(Imatrix, MalformedGgufIsAnError) {
  const std::vector<T> ok = {{"w.in_sum2", {2, 1}, {1.0f, 2.0f}}, {"w.counts", {1, 1}, {1.0f}}};
  for (const char* key : {"imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size"}) {
    Kv kv = imatrix_kv();
    std::erase_if(kv, [&](const auto& e) { return e.first == key; });
    expect_error(write_gguf_imatrix("-meta.gguf", kv, ok), "missing imatrix metadata");
  }
  Kv kv = imatrix_kv();
  kv[2].second = GgufValue::i32(3);
  expect_error(write_gguf_imatrix("-u32.gguf", kv, ok), "must be a u32");
  kv = imatrix_kv();
  kv[1].second = GgufValue::u32(1);
  expect_error(write_gguf_imatrix("-ds.gguf", kv, ok), "array of strings");
  expect_error(write_gguf_imatrix("-none.gguf", imatrix_kv(), {}), "no data");
  expect_error(write_gguf_imatrix("-other.gguf", imatrix_kv(), {{"x", {1}, {1.0f}}}),
               "no imatrix entries");
  expect_error(write_gguf_imatrix("-pair.gguf", imatrix_kv(), {ok[0]}), "mismatched sums");
  expect_error(
      write_gguf_imatrix("-f16.gguf", imatrix_kv(), {{"w.in_sum2", {2}, {}, GgmlType::F16}, ok[1]}),
      "must be F32");
  expect_error(write_gguf_imatrix("-shape.gguf", imatrix_kv(),
                                  {{"w.in_sum2", {3}, {1, 2, 3}}, {"w.counts", {2}, {1, 1}}}),
               "3 sums for 2 counts");
  const float inf = std::numeric_limits<float>::infinity();
  expect_error(write_gguf_imatrix("-inf.gguf", imatrix_kv(), {{ok[0]}, {"w.counts", {1}, {inf}}}),
               "not a finite token count");
  expect_error(write_gguf_imatrix("-nan.gguf", imatrix_kv(),
                                  {{"w.in_sum2", {2}, {1.0f, std::nanf("")}}, ok[1]}),
               "non-finite value");
  const std::string bad = temp_path("-bad.gguf");
  std::ofstream(bad, std::ios::binary) << "GGUF\x03";
  expect_error(bad, bad);  // the container's own errors name the file
}

TEST(Imatrix, MalformedLegacyIsAnError) {
  auto one = [](int32_t len, const std::string& name, int32_t nval, size_t floats) {
    Dat d;
    d.i32(1);
    d.i32(len);
    d.bytes += name;
    d.i32(1);
    d.i32(nval);
    d.floats(std::vector<float>(floats, 1.0f));
    return d;
  };
  expect_error(Dat{}.write("-empty.dat"), "no data");
  Dat zero;
  zero.i32(0);
  expect_error(zero.write("-zero.dat"), "no data");
  expect_error(one(-5, "", 1, 1).write("-neglen.dat"), "negative name length");
  expect_error(one(1000, "abc", 1, 1).write("-longname.dat"), "truncated");
  expect_error(one(1, "a", 0, 0).write("-nval.dat"), "has 0 values");
  expect_error(one(1, "a", 1 << 30, 1).write("-bignval.dat"), "truncated");
  Dat two = one(1, "a", 1, 1);
  two.bytes[0] = 2;
  two.str("a");
  two.i32(1);
  two.i32(1);
  two.floats({1.0f});
  expect_error(two.write("-dup.dat"), "appears twice");
  Dat tr = one(1, "a", 1, 1);
  tr.i32(3);
  expect_error(tr.write("-trailer.dat"), "truncated");
  tr.str("data");
  tr.bytes += "x";
  expect_error(tr.write("-extra.dat"), "after the legacy imatrix");
  Dat nan = one(1, "a", 1, 0);
  nan.floats({std::nanf("")});
  expect_error(nan.write("-nan.dat"), "non-finite value");
  expect_error(temp_path("-missing.dat"), "No such file");
  expect_error(fs::temp_directory_path().string(), "not a regular file");
}

}  // namespace
}  // namespace loaq
