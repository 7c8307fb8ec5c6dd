// Tokenizers against shared/golden/tokenizers (README there): for every golden file and every one
// of the 300 texts, the ids, the ids with special tokens, the token strings and the decoded text
// must equal the reference (@huggingface/tokenizers for tokenizer.json, python sentencepiece for
// tokenizer.model) exactly. All go through the one Tokenizer interface, loaded as `loaq` loads
// them.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_assets.h"
#include "text/datasets.h"
#include "text/tokenizer.h"

namespace loaq {
namespace {

struct GoldenCase {
  std::string name;       // golden file stem
  std::string tokenizer;  // path under the assets folder, as given to load_tokenizer
  bool hf;  // tokenizer.json golden (ids_with_special, tokens) or SentencePiece (pieces)
};

std::ostream& operator<<(std::ostream& os, const GoldenCase& c) {
  return os << c.name;
}

// Records of a .jsonl golden file, split on "\n" only (U+2028 and friends are escaped).
std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  const std::string all = read_file(path);
  std::vector<nlohmann::json> out;
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    if (end > start) out.push_back(nlohmann::json::parse(all.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

std::string show(const std::vector<int32_t>& v) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << "]";
  return os.str();
}

// "" when equal, else where the first difference is.
std::string first_difference(const std::vector<int32_t>& got, const std::vector<int32_t>& want) {
  if (got == want) return "";
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  std::ostringstream os;
  os << "first mismatch at index " << i << ": got "
     << (i < got.size() ? std::to_string(got[i]) : std::string("<end>")) << ", want "
     << (i < want.size() ? std::to_string(want[i]) : std::string("<end>")) << " (lengths "
     << got.size() << " vs " << want.size() << ")";
  if (got.size() < 40 && want.size() < 40)
    os << "\n      got  " << show(got) << "\n      want " << show(want);
  return os.str();
}

class GoldenTokenizers : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTokenizers, EveryTextMatchesReference) {
  const GoldenCase& c = GetParam();
  LOAQ_REQUIRE_ASSET(texts_path, "golden/tokenizers/texts.jsonl");
  LOAQ_REQUIRE_ASSET(golden_path, "golden/tokenizers/" + c.name + ".jsonl");
  LOAQ_REQUIRE_ASSET(tok_path, c.tokenizer);
  const auto tok = load_tokenizer(tok_path);

  std::map<std::string, std::string> texts;
  for (const auto& r : read_jsonl(texts_path))
    texts[r.at("id").get<std::string>()] = r.at("text").get<std::string>();
  const auto records = read_jsonl(golden_path);
  ASSERT_EQ(records.size(), texts.size()) << golden_path;

  int bad_ids = 0, bad_special = 0, bad_pieces = 0, bad_decoded = 0;
  std::string first;  // the first mismatch, in detail
  auto note = [&](const std::string& id, const std::string& what, const std::string& detail) {
    if (first.empty()) first = id + " " + what + ": " + detail;
  };
  for (const auto& r : records) {
    const std::string id = r.at("id").get<std::string>();
    ASSERT_TRUE(texts.count(id)) << id;
    const std::string& text = texts[id];
    const auto want = r.at("ids").get<std::vector<int32_t>>();

    const auto ids = tok->encode(text);
    if (const auto d = first_difference(ids, want); !d.empty()) ++bad_ids, note(id, "ids", d);

    if (c.hf) {
      const auto want_special = r.at("ids_with_special").get<std::vector<int32_t>>();
      const auto special = tok->encode_with_special(text);
      if (const auto d = first_difference(special, want_special); !d.empty())
        ++bad_special, note(id, "ids_with_special", d);
    }

    const auto want_pieces = r.at(c.hf ? "tokens" : "pieces").get<std::vector<std::string>>();
    std::vector<std::string> pieces;
    for (const int32_t t : want) pieces.push_back(tok->id_to_piece(t));
    if (pieces != want_pieces) ++bad_pieces, note(id, "pieces", "differ");

    const std::string decoded = tok->decode(want);
    const std::string want_decoded = r.at("decoded").get<std::string>();
    if (decoded != want_decoded)
      ++bad_decoded, note(id, "decoded", "got '" + decoded + "', want '" + want_decoded + "'");
  }
  EXPECT_EQ(bad_ids, 0) << c.name << ": ids mismatches";
  EXPECT_EQ(bad_special, 0) << c.name << ": ids_with_special mismatches";
  EXPECT_EQ(bad_pieces, 0) << c.name << ": token-string mismatches";
  EXPECT_EQ(bad_decoded, 0) << c.name << ": decoded mismatches";
  if (!first.empty()) ADD_FAILURE() << c.name << ": first mismatch: " << first;
  RecordProperty("texts", int(records.size()));
  std::printf(
      "[ golden   ] %-10s %zu texts: %d ids, %d ids_with_special, %d pieces, %d decoded "
      "mismatches (%s)\n",
      c.name.c_str(), records.size(), bad_ids, bad_special, bad_pieces, bad_decoded,
      tok->source().c_str());
}

INSTANTIATE_TEST_SUITE_P(All, GoldenTokenizers,
                         ::testing::Values(GoldenCase{"llama2", "tokenizers/llama2", true},
                                           GoldenCase{"mistral7b", "tokenizers/mistral7b", true},
                                           GoldenCase{"llama3", "tokenizers/llama3", true},
                                           GoldenCase{"qwen3", "tokenizers/qwen3", true},
                                           GoldenCase{"tok4096", "tokenizers/tok4096", false},
                                           GoldenCase{"llama2_spm",
                                                      "tokenizers/llama2/tokenizer.model", false}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace loaq
