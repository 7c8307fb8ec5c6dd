// The safetensors reader and writer: round trip of every dtype the writer is used with, the on-disk
// layout (padded header), atomic writes, and one crafted file per validation rule of the reader.
#include "io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "expect_error.h"
#include "io/atomic_file.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / ("loaq-safetensors-test-" + std::to_string(::getpid()) +
                                         "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(path_)) v.push_back(e.path().filename().string());
    return v;
  }

 private:
  fs::path path_;
};

template <class T>
std::span<const std::byte> as_bytes_of(const std::vector<T>& v) {
  return std::as_bytes(std::span<const T>(v));
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// A safetensors file written by hand: the 8-byte little-endian header length (`header.size()`
// unless `header_len` overrides it), the header text as given, then `data`.
std::string raw_file(const std::string& header, const std::string& data,
                     std::optional<uint64_t> header_len = std::nullopt) {
  const uint64_t n = header_len.value_or(header.size());
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return out + header + data;
}

using test::expect_error;

// Writes `header` + `data` to a file and expects opening it to fail naming the file and `parts`.
void expect_open_error(const TempDir& dir, const std::string& header, const std::string& data,
                       std::initializer_list<std::string> parts,
                       std::optional<uint64_t> header_len = std::nullopt) {
  const std::string path = dir.file("crafted.safetensors");
  write_all(path, raw_file(header, data, header_len));
  EXPECT_THROW({ SafetensorsFile f(path); }, Error);
  expect_error([&] { SafetensorsFile f(path); }, parts);
  expect_error([&] { SafetensorsFile f(path); }, {path});
}

// --------------------------------------------------------------------------------------------
// Writer → reader

TEST(Safetensors, RoundTripAllDtypes) {
  TempDir dir;
  const std::string path = dir.file("round.safetensors");
  const std::vector<float> f32 = {1.5f, -2.25f, 0.0f, 3e-8f, 65504.0f, -1e30f};
  std::vector<uint16_t> f16, bf16;
  for (float x : {1.0f, -0.5f, 0.099975586f, 65504.0f}) f16.push_back(f32_to_f16(x));
  for (float x : {1.0f, -3.0f, 0.15625f, 1e20f, -7.5f, 2.0f}) bf16.push_back(f32_to_bf16(x));
  const std::vector<int64_t> i64 = {0, -1, 42, int64_t(1) << 40};
  const std::vector<float> scalar = {7.25f};
  const std::vector<float> none;

  std::vector<TensorToWrite> ts = {
      {"w.f32", DType::F32, {2, 3}, as_bytes_of(f32)},
      {"w.f16", DType::F16, {4}, as_bytes_of(f16)},
      {"w.bf16", DType::BF16, {3, 1, 2}, as_bytes_of(bf16)},
      {"ids", DType::I64, {2, 2}, as_bytes_of(i64)},
      {"scalar", DType::F32, {}, as_bytes_of(scalar)},
      {"empty", DType::F32, {0, 5}, as_bytes_of(none)},
  };
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"loaq.note", "round trip"}};
  write_safetensors(path, ts, meta);

  const SafetensorsFile f(path);
  EXPECT_EQ(f.path(), path);
  EXPECT_EQ(f.metadata(), meta);
  ASSERT_EQ(f.tensors().size(), ts.size());
  // Name order, whatever the order given.
  std::vector<std::string> names;
  for (const auto& t : f.tensors()) names.push_back(t.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"empty", "ids", "scalar", "w.bf16", "w.f16", "w.f32"}));
  for (const auto& w : ts) {
    SCOPED_TRACE(w.name);
    const TensorInfo* t = f.find(w.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, w.dtype);
    EXPECT_EQ(t->shape, w.shape);
    EXPECT_EQ(t->end - t->begin, w.bytes.size());
    const auto b = f.bytes(*t);
    ASSERT_EQ(b.size(), w.bytes.size());
    if (!b.empty()) {
      EXPECT_EQ(std::memcmp(b.data(), w.bytes.data(), b.size()), 0);
    }
  }
  EXPECT_EQ(f.find("missing"), nullptr);

  EXPECT_EQ(f.read_f32("w.f32").data, f32);
  EXPECT_EQ(f.read_f32("w.f32").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.read_f32("w.f16").data, (std::vector<float>{1.0f, -0.5f, 0.099975586f, 65504.0f}));
  std::vector<float> bf16_back;
  for (uint16_t h : bf16) bf16_back.push_back(bf16_to_f32(h));
  EXPECT_EQ(f.read_f32("w.bf16").data, bf16_back);
  EXPECT_EQ(f.read_f32("w.bf16").data[0], 1.0f);
  EXPECT_EQ(f.read_f32("ids").data, (std::vector<float>{0.0f, -1.0f, 42.0f, 1099511627776.0f}));
  const Tensor s = f.read_f32("scalar");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.data, scalar);
  const Tensor e = f.read_f32("empty");
  EXPECT_EQ(e.shape, (std::vector<int64_t>{0, 5}));
  EXPECT_TRUE(e.empty());
  expect_error([&] { f.read_f32("missing"); }, {path, "missing"});
}

TEST(Safetensors, F32EntryAndNoMetadata) {
  TempDir dir;
  const std::string path = dir.file("t.safetensors");
  Tensor t({2, 2});
  t.data = {1, 2, 3, 4};
  write_safetensors(path, {f32_entry("a", t)});
  const SafetensorsFile f(path);
  EXPECT_TRUE(f.metadata().empty());
  EXPECT_EQ(f.read_f32("a").data, t.data);
  EXPECT_EQ(f.read_f32("a").shape, t.shape);
  // Without metadata the header has no "__metadata__" key at all.
  EXPECT_EQ(read_all(path).find("__metadata__"), std::string::npos);
}

TEST(Safetensors, MoveKeepsMapping) {
  TempDir dir;
  const std::string path = dir.file("t.safetensors");
  Tensor t({3});
  t.data = {1, 2, 3};
  write_safetensors(path, {f32_entry("a", t)});
  std::vector<SafetensorsFile> files;
  files.emplace_back(path);
  files.emplace_back(path);  // reallocates: the first file is moved
  files.emplace_back(path);
  for (const auto& f : files) EXPECT_EQ(f.read_f32("a").data, t.data);
}

// The header (including its padding) has a length that is a multiple of 8, padded with spaces, so
// the data section starts 8-byte aligned; the first tensor starts at offset 0.
TEST(Safetensors, HeaderPaddedToMultipleOf8) {
  TempDir dir;
  for (int extra = 0; extra < 8; ++extra) {
    const std::string path = dir.file("p" + std::to_string(extra) + ".safetensors");
    const std::vector<float> v = {1, 2, 3};
    // Vary the header length through the name length.
    write_safetensors(path,
                      {{std::string(size_t(1 + extra), 'x'), DType::F32, {3}, as_bytes_of(v)}});
    const std::string raw = read_all(path);
    ASSERT_GE(raw.size(), 8u);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(raw[size_t(i)])) << (8 * i);
    EXPECT_EQ(n % 8, 0u) << extra;
    EXPECT_EQ(raw.size(), 8 + n + 12) << extra;
    const std::string header = raw.substr(8, n);
    EXPECT_EQ(header.front(), '{');
    const size_t close = header.find_last_of('}');
    ASSERT_NE(close, std::string::npos);
    EXPECT_LT(n - close - 1, 8u);
    EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << "padding not spaces";
    const SafetensorsFile f(path);
    EXPECT_EQ(f.tensors().at(0).begin, 0u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(f.bytes(f.tensors().at(0)).data()) % 8, 0u);
  }
}

TEST(Safetensors, AtomicWriteLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string path = dir.file("a.safetensors");
  const std::vector<float> v1 = {1, 2}, v2 = {3, 4, 5};
  write_safetensors(path, {{"t", DType::F32, {2}, as_bytes_of(v1)}});
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.safetensors"});
  // Overwriting replaces the file whole.
  write_safetensors(path, {{"t", DType::F32, {3}, as_bytes_of(v2)}});
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.safetensors"});
  EXPECT_EQ(SafetensorsFile(path).read_f32("t").data, v2);

  // A failed write (bytes disagree with the shape) leaves neither the target nor a temporary.
  const std::string bad = dir.file("b.safetensors");
  expect_error(
      [&] {
        write_safetensors(bad, {{"t", DType::F32, {3}, as_bytes_of(v1)}});
      },
      {bad, "'t'", "needs 12 bytes, got 8"});
  expect_error(
      [&] {
        write_safetensors(bad, {{"t", DType::F32, {2}, as_bytes_of(v1)},
                                {"t", DType::F32, {2}, as_bytes_of(v1)}});
      },
      {bad, "'t' given twice"});
  expect_error(
      [&] {
        write_safetensors(bad, {{"__metadata__", DType::F32, {2}, as_bytes_of(v1)}});
      },
      {bad, "__metadata__"});
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.safetensors"});

  // An AtomicFile dropped before commit() removes its temporary and leaves the target untouched.
  {
    AtomicFile f(path);
    f.write("garbage");
    EXPECT_EQ(dir.entries().size(), 2u);  // target + temporary
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.safetensors"});
  EXPECT_EQ(SafetensorsFile(path).read_f32("t").data, v2);

  // A directory that does not exist: error naming the file, nothing created.
  const std::string nowhere = dir.file("no/such/dir/x.safetensors");
  expect_error(
      [&] {
        write_safetensors(nowhere, {{"t", DType::F32, {2}, as_bytes_of(v1)}});
      },
      {nowhere});
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.safetensors"});
}

TEST(SafetensorsWriter, PiecesGiveTheSameFileAsWriteSafetensors) {
  TempDir dir;
  const std::vector<uint16_t> a = {1, 2, 3, 4, 5, 6, 7};
  const std::vector<float> b = {1.5f, -2.5f, 3.25f};
  const std::vector<int64_t> c = {-1, 1ll << 40};
  const std::vector<uint8_t> none;
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  write_safetensors(dir.file("whole.safetensors"),
                    {{"x.a", DType::BF16, {7}, as_bytes_of(a)},
                     {"x.b", DType::F32, {3}, as_bytes_of(b)},
                     {"x.empty", DType::U8, {0, 4}, as_bytes_of(none)},
                     {"x.c", DType::I64, {2}, as_bytes_of(c)}},
                    meta);
  SafetensorsWriter w(dir.file("pieces.safetensors"),
                      {{"x.a", DType::BF16, {7}},
                       {"x.b", DType::F32, {3}},
                       {"x.empty", DType::U8, {0, 4}},
                       {"x.c", DType::I64, {2}}},
                      meta);
  // File order: element size descending, then name; byte ranges contiguous.
  ASSERT_EQ(w.layout().size(), 4u);
  EXPECT_EQ(w.layout()[0].name, "x.c");
  EXPECT_EQ(w.layout()[1].name, "x.b");
  EXPECT_EQ(w.layout()[2].name, "x.a");
  EXPECT_EQ(w.layout()[3].name, "x.empty");
  EXPECT_EQ(w.layout()[1].begin, 16u);
  EXPECT_EQ(w.data_size(), 16u + 12u + 14u);
  // Not yet visible under its name.
  EXPECT_FALSE(fs::exists(dir.file("pieces.safetensors")));
  const auto cb = as_bytes_of(c), bb = as_bytes_of(b), ab = as_bytes_of(a);
  w.append("x.c", cb);
  w.append("x.b", bb.subspan(0, 5));
  w.append("x.b", bb.subspan(5, 0));
  w.append("x.b", bb.subspan(5));
  w.append("x.a", ab.subspan(0, 2));
  w.append("x.a", ab.subspan(2));
  w.commit();
  EXPECT_EQ(read_all(dir.file("pieces.safetensors")), read_all(dir.file("whole.safetensors")));
  EXPECT_EQ(SafetensorsFile(dir.file("pieces.safetensors")).read_f32("x.b").data, b);
  EXPECT_EQ(dir.entries().size(), 2u);  // no temporary left
}

TEST(SafetensorsWriter, RejectsDataOutOfOrderPastTheEndOrMissing) {
  TempDir dir;
  const std::string path = dir.file("s.safetensors");
  const std::vector<float> two = {1, 2}, three = {1, 2, 3};
  auto make = [&] {
    return std::make_unique<SafetensorsWriter>(
        path, std::vector<TensorSpec>{{"a", DType::F32, {2}}, {"b", DType::F32, {2}}});
  };
  {
    auto w = make();
    expect_error([&] { w->append("b", as_bytes_of(two)); },
                 {path, "'b'", "while 'a' is incomplete"});
    expect_error([&] { w->append("a", as_bytes_of(three)); },
                 {path, "'a'", "12 bytes appended at byte 0 run past its end (8 bytes)"});
    w->append("a", as_bytes_of(two));
    expect_error([&] { w->commit(); }, {path, "tensor 'b' is incomplete (0 of 8 bytes)"});
    w->append("b", as_bytes_of(std::vector<float>{5}));
    expect_error([&] { w->commit(); }, {path, "tensor 'b' is incomplete (4 of 8 bytes)"});
    w->append("b", as_bytes_of(std::vector<float>{6}));
    expect_error([&] { w->append("b", as_bytes_of(two)); }, {path, "every tensor is complete"});
  }
  // Dropped without commit: neither the target nor a temporary file exists.
  EXPECT_TRUE(dir.entries().empty());
  expect_error(
      [&] {
        SafetensorsWriter w(path, {{"a", DType::F32, {2}}, {"a", DType::F16, {2}}});
      },
      {path, "'a' given twice"});
  EXPECT_TRUE(dir.entries().empty());
  {
    auto w = make();
    w->append("a", as_bytes_of(two));
    w->append("b", as_bytes_of(three).subspan(4));
    w->commit();
    expect_error([&] { w->commit(); }, {path, "committed twice"});
  }
  EXPECT_EQ(SafetensorsFile(path).read_f32("b").data, (std::vector<float>{2, 3}));
}

TEST(Safetensors, WriteFileAtomic) {
  TempDir dir;
  const std::string path = dir.file("x.json");
  write_file_atomic(path, "{\"a\": 1}\n");
  write_file_atomic(path, "{}\n");
  EXPECT_EQ(read_all(path), "{}\n");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"x.json"});
}

// --------------------------------------------------------------------------------------------
// Validation: one crafted file per rule. Every error names the file and the reason.

// 8 bytes of F32 data: two floats.
const std::string kTwoFloats("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);

TEST(SafetensorsValidation, ValidCraftedFileOpens) {
  TempDir dir;
  const std::string path = dir.file("ok.safetensors");
  write_all(path,
            raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", kTwoFloats));
  const SafetensorsFile f(path);
  EXPECT_EQ(f.read_f32("a").data, (std::vector<float>{1.0f, 2.0f}));
  // Integer dims given as unsigned JSON numbers and an empty data section with zero-size tensors.
  write_all(path, raw_file(R"({"z":{"dtype":"BF16","shape":[1000,0],"data_offsets":[0,0]},)"
                           R"("s":{"dtype":"I8","shape":[0],"data_offsets":[0,0]}})",
                           ""));
  const SafetensorsFile g(path);
  ASSERT_NE(g.find("z"), nullptr);
  EXPECT_EQ(g.find("z")->shape, (std::vector<int64_t>{1000, 0}));
  EXPECT_TRUE(g.read_f32("z").empty());
}

TEST(SafetensorsValidation, MissingFile) {
  TempDir dir;
  const std::string path = dir.file("absent.safetensors");
  expect_error([&] { SafetensorsFile f(path); }, {path, "cannot open", "No such file"});
}

TEST(SafetensorsValidation, Truncated) {
  TempDir dir;
  const std::string path = dir.file("short.safetensors");
  for (size_t n : {0, 1, 7}) {
    write_all(path, std::string(n, '\x01'));
    EXPECT_THROW({ SafetensorsFile f(path); }, Error);
    expect_error([&] { SafetensorsFile f(path); },
                 {path, "shorter than the 8-byte header length", std::to_string(n) + " bytes"});
  }
}

TEST(SafetensorsValidation, HeaderLengthPastEndOfFile) {
  TempDir dir;
  const std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expect_open_error(dir, h, kTwoFloats, {"header length 1000", "runs past the end of the file"},
                    1000);
  // One byte past the end.
  expect_open_error(dir, h, kTwoFloats, {"runs past the end of the file"},
                    h.size() + kTwoFloats.size() + 1);
}

TEST(SafetensorsValidation, HeaderLengthAboveLimit) {
  TempDir dir;
  expect_open_error(dir, "{}", "", {std::to_string(kMaxSafetensorsHeader + 1), "exceeds the limit"},
                    kMaxSafetensorsHeader + 1);
  // Huge values (a file that is not safetensors at all) must not overflow the bounds checks.
  expect_open_error(dir, "{}", "", {"exceeds the limit"}, std::numeric_limits<uint64_t>::max());
  expect_open_error(dir, "{}", "", {"exceeds the limit"}, std::numeric_limits<uint64_t>::max() - 7);
}

TEST(SafetensorsValidation, InvalidJson) {
  TempDir dir;
  expect_open_error(dir, R"({"a":{"dtype":"F32","shape":[2],)", kTwoFloats,
                    {"header: invalid JSON"});
  expect_open_error(dir, "", "", {"header: invalid JSON"});  // zero-length header
  expect_open_error(dir, std::string("{\0}", 3), "", {"header: invalid JSON"});
}

TEST(SafetensorsValidation, HeaderNotAnObject) {
  TempDir dir;
  expect_open_error(dir, "[1, 2, 3]", "", {"header is not a JSON object"});
  expect_open_error(dir, "\"text\"  ", "", {"header is not a JSON object"});
}

TEST(SafetensorsValidation, UnknownDtype) {
  TempDir dir;
  expect_open_error(dir, R"({"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}})", kTwoFloats,
                    {"tensor 'w'", "unknown dtype 'Q4_K'"});
  expect_open_error(dir, R"({"w":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", kTwoFloats,
                    {"tensor 'w'", "'dtype'"});
}

TEST(SafetensorsValidation, ShapeLengthMismatch) {
  TempDir dir;
  // [3] F32 needs 12 bytes, the range holds 8.
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", kTwoFloats,
                    {"tensor 'w'", "needs 12 bytes but data_offsets give 8"});
  // Right element count for F16, wrong for F32.
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}})", kTwoFloats,
                    {"tensor 'w'", "needs 16 bytes"});
  // A scalar is one element.
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[],"data_offsets":[0,8]}})", kTwoFloats,
                    {"tensor 'w'", "needs 4 bytes"});
  // Dimensions whose product overflows 64 bits.
  expect_open_error(dir,
                    R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],)"
                    R"("data_offsets":[0,8]}})",
                    kTwoFloats, {"tensor 'w'", "needs over 2^64 bytes but data_offsets give 8"});
}

TEST(SafetensorsValidation, RangeOutsideDataSection) {
  TempDir dir;
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", kTwoFloats,
                    {"tensor 'w'", "[4, 12]", "lies outside the data section (8 bytes)"});
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "",
                    {"tensor 'w'", "lies outside the data section (0 bytes)"});
  // Offsets near 2^64 must not wrap around.
  expect_open_error(dir,
                    R"({"w":{"dtype":"F32","shape":[2],)"
                    R"("data_offsets":[18446744073709551608,18446744073709551615]}})",
                    kTwoFloats, {"tensor 'w'", "lies outside the data section"});
}

TEST(SafetensorsValidation, OverlappingRanges) {
  TempDir dir;
  expect_open_error(dir,
                    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    kTwoFloats, {"'a' [0, 8]", "'b' [4, 8]", "overlap"});
  // Same range twice.
  expect_open_error(dir,
                    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
                    kTwoFloats, {"'a'", "'b'", "overlap"});
  // A range that contains a later, non-adjacent one.
  expect_open_error(dir,
                    R"({"big":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                    R"("x":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},)"
                    R"("y":{"dtype":"U8","shape":[1],"data_offsets":[6,7]}})",
                    kTwoFloats, {"'big'", "overlap"});
}

TEST(SafetensorsValidation, DuplicateNames) {
  TempDir dir;
  expect_open_error(dir,
                    R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    kTwoFloats, {"tensor name 'w' appears twice"});
}

TEST(SafetensorsValidation, NegativeShapeEntry) {
  TempDir dir;
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kTwoFloats,
                    {"tensor 'w'", "shape entry -2 is not a non-negative integer"});
  // (-1) × (-2) = 2 elements: the byte count would match if signs were ignored.
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[-1,-2],"data_offsets":[0,8]}})",
                    kTwoFloats, {"tensor 'w'", "not a non-negative integer"});
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", kTwoFloats,
                    {"tensor 'w'", "not a non-negative integer"});
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", kTwoFloats,
                    {"tensor 'w'", "'shape' is not an array"});
}

// Dimensions of 2^63 and above do not fit int64_t; they must not wrap to negative values (2 bytes
// × 2^63 = 2^64 ≡ 0 would otherwise match an empty range).
TEST(SafetensorsValidation, ShapeEntryTooLarge) {
  TempDir dir;
  expect_open_error(dir,
                    R"({"w":{"dtype":"F16","shape":[9223372036854775808],"data_offsets":[0,0]}})",
                    "", {"tensor 'w'", "too large"});
  expect_open_error(dir,
                    R"({"w":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,0]}})",
                    "", {"tensor 'w'", "too large"});
  expect_open_error(dir, R"({"w":{"dtype":"U8","shape":[1099511627777],"data_offsets":[0,0]}})", "",
                    {"tensor 'w'", "too large"});
}

TEST(SafetensorsValidation, ReversedOffsets) {
  TempDir dir;
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", kTwoFloats,
                    {"tensor 'w'", "data_offsets [8, 0] are reversed"});
}

TEST(SafetensorsValidation, BadOffsetsAndMetadata) {
  TempDir dir;
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[2]}})", kTwoFloats,
                    {"tensor 'w'", "'data_offsets' must be two non-negative integers"});
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", kTwoFloats,
                    {"tensor 'w'", "'data_offsets'"});
  expect_open_error(dir, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}})", kTwoFloats,
                    {"tensor 'w'", "'data_offsets'"});
  expect_open_error(dir, R"({"w":[1,2]})", kTwoFloats, {"tensor 'w'", "not an object"});
  expect_open_error(dir, R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", kTwoFloats,
                    {"tensor 'w'", "missing 'shape'"});
  expect_open_error(dir, R"({"__metadata__":[1]})", "", {"'__metadata__' is not an object"});
  expect_open_error(dir, R"({"__metadata__":{"k":1}})", "", {"'__metadata__'", "'k'"});
}

// Non-finite values are found when the tensor is read (not at open, which reads no data); the
// message names the file and the tensor.
TEST(SafetensorsValidation, NonFiniteValues) {
  TempDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::string path = dir.file("nf.safetensors");
  const std::vector<float> f_nan = {1, nan, 3}, f_inf = {-inf, 0, 1}, ok = {1, 2, 3};
  const std::vector<uint16_t> b_nan = {f32_to_bf16(1), f32_to_bf16(nan)};
  const std::vector<uint16_t> b_inf = {f32_to_bf16(2), f32_to_bf16(inf)};
  const std::vector<uint16_t> h_inf = {f32_to_f16(1), 0x7c00};
  const std::vector<uint16_t> h_nan = {0x7e00, f32_to_f16(1)};
  write_safetensors(path, {{"f32.nan", DType::F32, {3}, as_bytes_of(f_nan)},
                           {"f32.inf", DType::F32, {3}, as_bytes_of(f_inf)},
                           {"bf16.nan", DType::BF16, {2}, as_bytes_of(b_nan)},
                           {"bf16.inf", DType::BF16, {1, 2}, as_bytes_of(b_inf)},
                           {"f16.inf", DType::F16, {2}, as_bytes_of(h_inf)},
                           {"f16.nan", DType::F16, {2}, as_bytes_of(h_nan)},
                           {"good", DType::F32, {3}, as_bytes_of(ok)}});
  const SafetensorsFile f(path);  // opening does not look at values
  EXPECT_EQ(f.read_f32("good").data, ok);
  for (const char* name : {"f32.nan", "f32.inf", "bf16.nan", "bf16.inf", "f16.inf", "f16.nan"}) {
    SCOPED_TRACE(name);
    EXPECT_THROW(f.read_f32(name), Error);
    expect_error([&] { f.read_f32(name); },
                 {path, "tensor '" + std::string(name) + "'", "non-finite"});
    expect_error([&] { f.read_f32(*f.find(name)); }, {path, std::string(name)});
  }
  expect_error([&] { f.read_f32("f32.nan"); }, {"nan", "flat index 1"});
  expect_error([&] { f.read_f32("f32.inf"); }, {"-inf", "flat index 0"});
  expect_error([&] { f.read_f32("bf16.inf"); }, {"inf", "flat index 1"});
}

}  // namespace
}  // namespace loaq
