// Storage of low-rank branches in quant_state.safetensors: a round trip of quantized and 16-bit
// branches beside other tensors, and the refusals of incomplete or inconsistent branches.
#include "io/lowrank_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

LowRankBranch make_branch(int64_t out, int64_t in, int64_t r, int bits, int abits) {
  LowRankBranch b;
  b.act_bits = abits;
  auto fill = [&](RowQuantMatrix& m, int64_t rows, int64_t cols, int seed) {
    m.rows = rows;
    m.cols = cols;
    m.bits = bits;
    for (int64_t i = 0; i < rows * cols; ++i) {
      if (bits < 16)
        m.codes.push_back(int8_t((i * 7 + seed) % (2 * m.qmax() + 1) - m.qmax()));
      else
        m.values.push_back(0.25f * float((i + seed) % 9) - 1.0f);
    }
    if (bits < 16)
      for (int64_t i = 0; i < rows; ++i) m.scale.push_back(0.01f * float(i + seed + 1));
  };
  fill(b.l1, r, in, 1);
  fill(b.l2, out, r, 2);
  return b;
}

void expect_same(const LowRankBranch& a, const LowRankBranch& b) {
  EXPECT_EQ(a.act_bits, b.act_bits);
  for (auto [x, y] : {std::pair{&a.l1, &b.l1}, {&a.l2, &b.l2}}) {
    EXPECT_EQ(x->rows, y->rows);
    EXPECT_EQ(x->cols, y->cols);
    EXPECT_EQ(x->bits, y->bits);
    EXPECT_EQ(x->codes, y->codes);
    EXPECT_EQ(x->scale, y->scale);
    EXPECT_EQ(x->values, y->values);
  }
}

struct TempFile {
  fs::path p = fs::temp_directory_path() /
               ("loaq_lowrank_state_" + std::to_string(::getpid()) + ".safetensors");
  ~TempFile() { fs::remove(p); }
};

TEST(LowRankState, RoundTripsBesideTheMainState) {
  TempFile f;
  const std::vector<float> other(6, 1.5f);
  write_safetensors(
      f.p.string(),
      {{"model.layers.0.mlp.up_proj.scale", DType::F32, {6}, std::as_bytes(std::span(other))}},
      {{"producer", "loaq"}});
  std::map<std::string, LowRankBranch> br = {
      {"model.layers.0.mlp.up_proj", make_branch(12, 8, 3, 4, 8)},
      {"model.layers.0.self_attn.q_proj", make_branch(8, 8, 2, 16, 16)},
      {"model.layers.1.mlp.down_proj", make_branch(8, 12, 5, 8, 6)}};
  add_lowrank_to_safetensors(f.p.string(), br);
  const auto s = SafetensorsSet::single(f.p.string());
  EXPECT_EQ(s.metadata().at("producer"), "loaq");
  EXPECT_EQ(s.metadata().at(kLowRankMetaKey), kLowRankMetaValue);
  ASSERT_NE(s.find("model.layers.0.mlp.up_proj.scale"), nullptr);
  EXPECT_EQ(s.find("model.layers.0.mlp.up_proj.lowrank.l1.codes")->shape,
            (std::vector<int64_t>{3, 8}));
  EXPECT_EQ(s.find("model.layers.0.mlp.up_proj.lowrank.l2.scale")->shape,
            (std::vector<int64_t>{12}));
  EXPECT_EQ(s.find("model.layers.0.self_attn.q_proj.lowrank.l1.weight")->dtype, DType::F32);
  const auto names = lowrank_linears(s);
  ASSERT_EQ(names.size(), 3u);
  for (const auto& n : names) expect_same(read_lowrank_branch(s, n), br.at(n));
  EXPECT_NO_THROW(read_lowrank_branch(s, "model.layers.0.mlp.up_proj", 12, 8));
  EXPECT_THROW(read_lowrank_branch(s, "model.layers.0.mlp.up_proj", 12, 9), Error);
  // A second branch for the same linear is refused.
  EXPECT_THROW(add_lowrank_to_safetensors(
                   f.p.string(), {{"model.layers.0.mlp.up_proj", make_branch(12, 8, 3, 4, 8)}}),
               Error);
  EXPECT_FALSE(is_lowrank_tensor("model.layers.0.mlp.up_proj.codes"));
  EXPECT_TRUE(is_lowrank_tensor("model.layers.0.mlp.up_proj.lowrank.bits"));
}

// Rewrites the file with the branch tensors edited by `edit`.
void write_edited(const std::string& path, const LowRankBranch& b,
                  const std::function<void(std::vector<TensorToWrite>&)>& edit,
                  bool with_meta = true) {
  const std::map<std::string, LowRankBranch> m = {{"lin", b}};  // the views point into it
  LowRankStateTensors t = lowrank_state_tensors(m);
  edit(t.tensors);
  std::map<std::string, std::string> md;
  if (with_meta) md[kLowRankMetaKey] = kLowRankMetaValue;
  write_safetensors(path, t.tensors, md);
}

TEST(LowRankState, RefusesIncompleteOrInconsistentBranches) {
  TempFile f;
  const LowRankBranch b = make_branch(6, 5, 2, 4, 8);
  const std::string p = f.p.string();
  auto refused = [&](const char* what) {
    try {
      const auto s = SafetensorsSet::single(p);
      for (const auto& n : lowrank_linears(s)) (void)read_lowrank_branch(s, n);
      ADD_FAILURE() << "accepted: " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  };
  write_edited(p, b, [](auto& t) { t.pop_back(); });
  refused("a missing part");
  write_edited(
      p, b, [](auto&) {}, false);
  refused("no metadata");
  std::vector<int8_t> bad(10, 8);  // 8 > qmax 7
  write_edited(p, b, [&](auto& t) {
    for (auto& x : t)
      if (x.name == "lin.lowrank.l1.codes") x.bytes = std::as_bytes(std::span(bad));
  });
  refused("a code out of range");
  std::vector<int32_t> bits = {3, 4, 8};  // rank 3 but factors of rank 2
  write_edited(p, b, [&](auto& t) {
    for (auto& x : t)
      if (x.name == "lin.lowrank.bits") x.bytes = std::as_bytes(std::span(bits));
  });
  refused("a rank that disagrees with the shapes");
  const std::vector<float> extra(2, 0.0f);
  write_edited(p, b, [&](auto& t) {
    t.push_back({"lin.lowrank.l3.scale", DType::F32, {2}, std::as_bytes(std::span(extra))});
  });
  refused("an unknown part");
  write_edited(p, b, [](auto&) {});
  const auto ok = SafetensorsSet::single(p);
  expect_same(read_lowrank_branch(ok, "lin"), b);
}

}  // namespace
}  // namespace loaq
