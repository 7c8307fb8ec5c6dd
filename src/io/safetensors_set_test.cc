// A safetensors file or its shards read as one set: one file, shards with an index (tensors in
// name order across shards, the file of each), and one crafted directory per rule of the index
// and of the metadata.
#include "io/safetensors_set.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_helpers.h"
#include "core/error.h"
#include "expect_error.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using test::expect_error;

std::string file(const test::TempDir& d, const std::string& name) {
  return (d.p / name).string();
}

// Tensor `name` holds n F32 values {v, v + 1, ...}, v the sum of its name's characters.
struct Values {
  std::map<std::string, std::vector<float>> v;
  const std::vector<float>& of(const std::string& name, int n) {
    auto& x = v[name];
    x.resize(size_t(n));
    float v0 = 0;
    for (char c : name) v0 += float(c);
    for (int i = 0; i < n; ++i) x[size_t(i)] = v0 + float(i);
    return x;
  }
};

void write_shard(const std::string& path, const std::vector<std::string>& names, Values& vals,
                 const std::map<std::string, std::string>& meta = {{"producer", "loaq"}}) {
  std::vector<TensorToWrite> t;
  for (const auto& n : names) {
    const auto& x = vals.of(n, 3);
    t.push_back({n, DType::F32, {3}, std::as_bytes(std::span(x))});
  }
  write_safetensors(path, std::move(t), meta);
}

// Three shards q-0000k-of-00003.safetensors of tensors a..e and the index q.safetensors.index.json;
// `edit` may change the index (as JSON) before it is written.
void write_sharded(const test::TempDir& d, Values& vals,
                   const std::function<void(json&)>& edit = {}) {
  const std::vector<std::vector<std::string>> shards = {
      {"c.weight", "a.weight"}, {"b.weight"}, {"e.weight", "d.weight"}};
  json index = {{"metadata", {{"total_size", 60}}}, {"weight_map", json::object()}};
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string f = "q-0000" + std::to_string(i + 1) + "-of-00003.safetensors";
    write_shard(file(d, f), shards[i], vals);
    for (const auto& n : shards[i]) index["weight_map"][n] = f;
  }
  if (edit) edit(index);
  test::write_all(file(d, "q.safetensors.index.json"), index.dump(2));
}

TEST(SafetensorsSet, OneFile) {
  test::TempDir d("safetensors_set");
  Values vals;
  write_shard(file(d, "q.safetensors"), {"b", "a"}, vals, {{"producer", "loaq"}, {"x", "1"}});
  EXPECT_TRUE(SafetensorsSet::present(d.p.string(), "q"));
  EXPECT_FALSE(SafetensorsSet::present(d.p.string(), "model"));
  std::vector<SafetensorsSet> sets;
  sets.push_back(SafetensorsSet(d.p.string(), "q"));
  sets.push_back(SafetensorsSet::single(file(d, "q.safetensors")));
  for (const SafetensorsSet& s : sets) {
    EXPECT_FALSE(s.sharded());
    EXPECT_EQ(s.path(), file(d, "q.safetensors"));
    ASSERT_EQ(s.tensors().size(), 2u);
    EXPECT_EQ(s.tensors()[0]->name, "a");
    EXPECT_EQ(s.tensors()[1]->name, "b");
    EXPECT_EQ(s.read_f32("b").data, vals.v["b"]);
    EXPECT_EQ(s.metadata().at("x"), "1");
    EXPECT_EQ(s.find("c"), nullptr);
    EXPECT_EQ(s.path_of("c"), s.path());
    expect_error([&] { s.read_f32("c"); }, {s.path(), "'c'"});
    expect_error([&] { s.need("a", DType::I32, {3}); }, {s.path(), "'a'", "dtype F32"});
    expect_error([&] { s.need("a", DType::F32, {4}); }, {s.path(), "'a'", "[3]", "[4]"});
  }
  expect_error([&] { SafetensorsSet(d.p.string(), "model"); },
               {d.p.string(), "no model.safetensors or model.safetensors.index.json"});
}

TEST(SafetensorsSet, ShardsReadAsOneSet) {
  test::TempDir d("safetensors_set");
  Values vals;
  write_sharded(d, vals);
  write_shard(file(d, "q.safetensors"), {"stale"}, vals);  // the index wins over it
  const SafetensorsSet s(d.p.string(), "q");
  EXPECT_TRUE(s.sharded());
  EXPECT_EQ(s.path(), file(d, "q.safetensors.index.json"));
  std::vector<std::string> names;
  for (const TensorInfo* t : s.tensors()) names.push_back(t->name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"a.weight", "b.weight", "c.weight", "d.weight", "e.weight"}));
  // Files in the order of their first tensor's name.
  ASSERT_EQ(s.files().size(), 3u);
  EXPECT_EQ(s.files()[0].path(), file(d, "q-00001-of-00003.safetensors"));
  EXPECT_EQ(s.files()[1].path(), file(d, "q-00002-of-00003.safetensors"));
  EXPECT_EQ(s.files()[2].path(), file(d, "q-00003-of-00003.safetensors"));
  EXPECT_EQ(s.file_of("d.weight").path(), file(d, "q-00003-of-00003.safetensors"));
  EXPECT_EQ(&s.file_of(*s.find("b.weight")), &s.files()[1]);
  EXPECT_EQ(s.path_of("b.weight"), file(d, "q-00002-of-00003.safetensors"));
  for (const auto& n : names) EXPECT_EQ(s.read_f32(n).data, vals.v[n]) << n;
  EXPECT_EQ(s.metadata().at("producer"), "loaq");
  EXPECT_EQ(s.find("stale"), nullptr);
  // A moved set keeps its views.
  SafetensorsSet a(d.p.string(), "q");
  const SafetensorsSet moved(std::move(a));
  EXPECT_EQ(moved.read_f32("e.weight").data, vals.v["e.weight"]);
}

TEST(SafetensorsSet, RefusesAnIndexThatDisagreesWithItsShards) {
  const std::string s1 = "q-00001-of-00003.safetensors", s3 = "q-00003-of-00003.safetensors";
  auto refused = [&](const std::function<void(const test::TempDir&, Values&)>& make,
                     std::initializer_list<std::string> parts) {
    test::TempDir d("safetensors_set");
    Values vals;
    make(d, vals);
    std::vector<std::string> all = {file(d, "q.safetensors.index.json")};
    all.insert(all.end(), parts.begin(), parts.end());
    try {
      SafetensorsSet s(d.p.string(), "q");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      for (const auto& p : all)
        EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << p << ": " << e.what();
    }
  };
  // A listed shard that does not exist.
  refused(
      [&](const test::TempDir& d, Values& v) {
        write_sharded(d, v);
        fs::remove(file(d, s3));
      },
      {"'" + s3 + "'", "does not exist"});
  // A tensor the index lists in a shard that lacks it.
  refused(
      [&](const test::TempDir& d, Values& v) {
        write_sharded(d, v, [&](json& j) { j["weight_map"]["z.weight"] = s1; });
      },
      {"'z.weight'", "'" + s1 + "'", "no such tensor"});
  // A tensor in a shard the index does not list for it (so in two shards).
  refused(
      [&](const test::TempDir& d, Values& v) {
        write_sharded(d, v);
        write_shard(file(d, s1), {"c.weight", "a.weight", "b.weight"}, v);
      },
      {"'b.weight'", "'" + s1 + "'", "q-00002-of-00003.safetensors"});
  // A tensor of a shard that the index does not list.
  refused(
      [&](const test::TempDir& d, Values& v) {
        write_sharded(d, v);
        write_shard(file(d, s1), {"c.weight", "a.weight", "extra"}, v);
      },
      {"'extra'", "does not list"});
  // A name listed twice (a plain parse would keep the last entry).
  refused(
      [&](const test::TempDir& d, Values& v) {
        write_sharded(d, v);
        std::string text = json{{"weight_map", {{"a.weight", s1}}}}.dump();
        text.insert(text.size() - 2, ",\"a.weight\":\"" + s1 + "\"");
        test::write_all(file(d, "q.safetensors.index.json"), text);
      },
      {"'a.weight'", "twice"});
  refused(
      [&](const test::TempDir& d, Values& v) {
        write_sharded(d, v, [](json& j) { j["weight_map"]["a.weight"] = "../q.safetensors"; });
      },
      {"'a.weight'", "outside the directory"});
  refused([&](const test::TempDir& d,
              Values& v) { write_sharded(d, v, [](json& j) { j.erase("weight_map"); }); },
          {"'weight_map'"});
  refused([&](const test::TempDir& d,
              Values& v) { write_sharded(d, v, [](json& j) { j["weight_map"]["a.weight"] = 1; }); },
          {"'a.weight'", "not a string"});
}

TEST(SafetensorsSet, ShardsMustCarryTheSameMetadata) {
  test::TempDir d("safetensors_set");
  Values vals;
  write_sharded(d, vals);
  write_shard(file(d, "q-00002-of-00003.safetensors"), {"b.weight"}, vals,
              {{"producer", "loaq"}, {"bits", "4"}});
  const SafetensorsSet s(d.p.string(), "q");  // opening and reading do not need the metadata
  EXPECT_EQ(s.read_f32("b.weight").data, vals.v["b.weight"]);
  expect_error([&] { (void)s.metadata(); },
               {s.path(), "q-00001-of-00003.safetensors", "q-00002-of-00003.safetensors", "'bits'",
                "(none)", "'4'"});
}

}  // namespace
}  // namespace loaq
