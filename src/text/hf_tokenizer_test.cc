// Unit tests of the tokenizer.json pipeline, component by component, on small inline tokenizer.json
// snippets (no assets needed), plus bad input, invalid UTF-8 and long runs. The golden comparison
// with the reference on real files is tests/golden_tokenizers_test.cc.
#include "text/hf_tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_assets.h"
#include "text/byte_level.h"
#include "text/utf8.h"

namespace loaq {
namespace {

using json = nlohmann::json;
using Ids = std::vector<int32_t>;

const std::string kMeta = "\xE2\x96\x81";  // ▁

// A BPE "model" object: tokens get ids in order.
json bpe(const std::vector<std::string>& tokens, const json& merges,
         json options = json::object()) {
  json vocab = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  options["type"] = "BPE";
  options["vocab"] = vocab;
  options["merges"] = merges;
  return options;
}

// A tokenizer.json with the given model; other components null unless set.
json tokenizer_json(const json& model) {
  return {{"version", "1.0"},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", nullptr},
          {"model", model}};
}

HfTokenizer make(const json& j, const json& config = nullptr) {
  return HfTokenizer(j, config, "test.json");
}

// The error message of `f`, or "" when it does not throw loaq::Error.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR_HAS(stmt, needle)                                              \
  do {                                                                              \
    const std::string msg_ = error_of([&] { (void)(stmt); });                       \
    EXPECT_NE(msg_.find(needle), std::string::npos) << "message: '" << msg_ << "'"; \
  } while (0)

// A byte-level vocabulary: the 256 alphabet characters (id = byte value) plus `extra` tokens.
std::vector<std::string> byte_alphabet(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> v;
  for (int b = 0; b < 256; ++b) {
    std::string s;
    utf8::append(s, byte_level::byte_to_char(uint8_t(b)));
    v.push_back(s);
  }
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

// Pieces of `text` after the pre-tokenizer `pt` (a tokenizer.json pre_tokenizer value).
std::vector<std::string> pieces(const json& pt, const std::string& text, bool at_start = true) {
  std::vector<PreToken> out;
  pre_tokenize(parse_pre_tokenizer(pt, "test.json"), text, at_start, out);
  std::vector<std::string> s;
  for (auto& p : out) s.push_back(p.text);
  return s;
}

std::string normalized(const json& n, const std::string& text) {
  return normalize(parse_normalizer(n, "test.json"), text);
}

std::string decoded(const json& d, const std::vector<std::string>& tokens) {
  return decode_tokens(parse_decoder(d, "test.json"), tokens);
}

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---------------------------------------------------------------- BPE model

TEST(HfTokenizerBpe, MergesLowestRankFirstLeftmostOnTies) {
  // a=0 b=1 c=2 ab=3 bc=4 abc=5
  const auto t =
      make(tokenizer_json(bpe({"a", "b", "c", "ab", "bc", "abc"}, {"b c", "a b", "a bc"})));
  EXPECT_EQ(t.encode("abc"), (Ids{5}));  // (b,c) has rank 0, then (a,bc)
  EXPECT_EQ(t.encode("abab"), (Ids{3, 3}));
  const auto u = make(tokenizer_json(bpe({"a", "aa"}, {"a a"})));
  EXPECT_EQ(u.encode("aaa"), (Ids{1, 0}));  // leftmost pair first
  EXPECT_EQ(u.encode("aaaaa"), (Ids{1, 1, 0}));
}

TEST(HfTokenizerBpe, LegacyAndPairMergesAreTheSame) {
  const std::vector<std::string> v = {"x", "y", "z", "xy", "xyz"};
  const auto a = make(tokenizer_json(bpe(v, {"x y", "xy z"})));
  const auto b = make(
      tokenizer_json(bpe(v, json::array({json::array({"x", "y"}), json::array({"xy", "z"})}))));
  EXPECT_EQ(a.encode("xyzxy"), (Ids{4, 3}));
  EXPECT_EQ(b.encode("xyzxy"), (Ids{4, 3}));
}

TEST(HfTokenizerBpe, ByteFallbackUnkAndFuseUnk) {
  // é is C3 A9; the byte tokens exist for C3 and A9 only.
  const std::vector<std::string> v = {"<unk>", "a", "<0xC3>", "<0xA9>"};
  const auto fb = make(
      tokenizer_json(bpe(v, json::array(), {{"byte_fallback", true}, {"unk_token", "<unk>"}})));
  EXPECT_EQ(fb.encode("a\xC3\xA9"), (Ids{1, 2, 3}));
  EXPECT_EQ(fb.encode("a\xE2\x82\xAC"), (Ids{1, 0}));  // € has no byte tokens: unk
  const auto fused =
      make(tokenizer_json(bpe(v, json::array(), {{"unk_token", "<unk>"}, {"fuse_unk", true}})));
  EXPECT_EQ(fused.encode("\xC3\xA9\xC3\xA9"
                         "a\xC3\xA9"),
            (Ids{0, 1, 0}));
  const auto unfused = make(tokenizer_json(bpe(v, json::array(), {{"unk_token", "<unk>"}})));
  EXPECT_EQ(unfused.encode("\xC3\xA9\xC3\xA9"
                           "a"),
            (Ids{0, 0, 1}));
  const auto none = make(tokenizer_json(bpe(v, json::array())));
  EXPECT_EQ(none.encode("\xC3\xA9"
                        "a"),
            (Ids{1}));  // no unk, no fallback: dropped
}

TEST(HfTokenizerBpe, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  const std::vector<std::string> v = {"a", "b", "ab", "ba", "aba"};
  const json merges = {"a b"};  // "aba" and "ba" are never made by merging
  EXPECT_EQ(make(tokenizer_json(bpe(v, merges))).encode("aba"), (Ids{2, 0}));
  EXPECT_EQ(make(tokenizer_json(bpe(v, merges, {{"ignore_merges", true}}))).encode("aba"),
            (Ids{4}));
}

TEST(HfTokenizerBpe, ContinuingSubwordPrefixAndEndOfWordSuffix) {
  const std::vector<std::string> v = {"a", "##b", "c</w>", "##c</w>", "a##b", "ab", "abc</w>"};
  // Merged tokens drop the right part's prefix: "a" + "##b" -> "ab".
  const auto t = make(
      tokenizer_json(bpe(v, {"a ##b", "ab ##c</w>"},
                         {{"continuing_subword_prefix", "##"}, {"end_of_word_suffix", "</w>"}})));
  EXPECT_EQ(t.encode("abc"), (Ids{6}));
  EXPECT_EQ(t.encode("c"), (Ids{2}));
}

TEST(HfTokenizerBpe, LongRunsAreNotQuadratic) {
  // Merges that halve the run every round: 100 kB of 'a' -> 1562 tokens of 64 'a' and one of 32.
  std::vector<std::string> v = {"a"};
  json merges = json::array();
  for (std::string s = "a"; s.size() < 64; s += s) {
    merges.push_back(s + " " + s);
    v.push_back(s + s);
  }
  const auto t = make(tokenizer_json(bpe(v, merges)));
  const std::string run(100000, 'a');
  Ids ids;
  EXPECT_LT(seconds_of([&] { ids = t.encode(run); }), 2.0);
  ASSERT_EQ(ids.size(), size_t(1563));  // 1562 x 64, then 32
  EXPECT_EQ(ids.front(), 6);            // 'a' x 64
  EXPECT_EQ(ids.back(), 5);             // 'a' x 32
  // Nothing merges: 100 kB of one unknown-to-merges character.
  const auto b = make(tokenizer_json(bpe({"b", "a"}, json::array())));
  EXPECT_LT(seconds_of([&] { ids = b.encode(std::string(100000, 'b')); }), 2.0);
  EXPECT_EQ(ids.size(), size_t(100000));
}

TEST(HfTokenizerBpe, LongRunsWithRealTokenizers) {
  // The byte-level files put a run of letters, digits, spaces or punctuation in one pre-token (or
  // few); the Llama-2 file has no pre-tokenizer at all, so the whole run is one BPE word.
  for (const std::string name : {"llama3", "qwen3", "llama2"}) {
    const auto dir = test::asset("tokenizers/" + name);
    if (!dir) GTEST_SKIP() << "asset 'tokenizers/" << name << "' not found (set LOAQ_ASSETS)";
    const auto tok = load_tokenizer(*dir);
    for (const char c : {'a', ' ', '7', '!', '\n'}) {
      const std::string run(100000, c);
      std::vector<int32_t> ids;
      const double s = seconds_of([&] { ids = tok->encode(run); });
      EXPECT_LT(s, 2.0) << name << " run of '" << c << "'";
      EXPECT_GT(ids.size(), 0u);
      EXPECT_EQ(tok->decode(ids), run) << name;
    }
  }
}

// ---------------------------------------------------------------- normalizers

TEST(HfTokenizerNormalizers, SequencePrependReplace) {
  const json n = {{"type", "Sequence"},
                  {"normalizers",
                   {{{"type", "Prepend"}, {"prepend", kMeta}},
                    {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMeta}}}}};
  EXPECT_EQ(normalized(n, "hi there"), kMeta + "hi" + kMeta + "there");
  EXPECT_EQ(normalized(n, ""), "");  // Prepend leaves an empty section empty
  const json re = {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", "_"}};
  EXPECT_EQ(normalized(re, "a  b   c d"), "a_b_c d");
  EXPECT_EQ(normalized(nullptr, "as is"), "as is");
}

TEST(HfTokenizerNormalizers, UnicodeFormsAndStrip) {
  const std::string e_acute = "\xC3\xA9", e_combining = "e\xCC\x81";
  EXPECT_EQ(normalized({{"type", "NFC"}}, "caf" + e_combining), "caf" + e_acute);
  EXPECT_EQ(normalized({{"type", "NFD"}}, "caf" + e_acute), "caf" + e_combining);
  // NFKC folds compatibility characters: the ligature fi, circled 1, fullwidth A.
  EXPECT_EQ(normalized({{"type", "NFKC"}}, "\xEF\xAC\x81 \xE2\x91\xA0 \xEF\xBC\xA1"), "fi 1 A");
  EXPECT_EQ(normalized({{"type", "NFC"}}, "\xEF\xAC\x81"), "\xEF\xAC\x81");
  // Ill-formed bytes are kept; the text around them is still normalized.
  EXPECT_EQ(normalized({{"type", "NFC"}}, e_combining + "\xFF" + e_combining),
            e_acute + "\xFF" + e_acute);
  const json strip = {{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}};
  EXPECT_EQ(normalized(strip,
                       " \t\xE3\x80\x80"
                       "a b \n"),
            "a b");  // U+3000 is White_Space
}

TEST(HfTokenizerNormalizers, UnknownTypeIsNamed) {
  EXPECT_ERROR_HAS(parse_normalizer({{"type", "Lowercase"}}, "tok.json"),
                   "normalizer type 'Lowercase'");
  EXPECT_ERROR_HAS(
      parse_normalizer({{"type", "Sequence"}, {"normalizers", {{{"type", "Precompiled"}}}}},
                       "tok.json"),
      "normalizer.normalizers[0]: normalizer type 'Precompiled'");
  EXPECT_ERROR_HAS(
      parse_normalizer({{"type", "Replace"}, {"pattern", {{"Regex", "("}}}, {"content", ""}},
                       "tok.json"),
      "cannot compile regex '('");
  EXPECT_ERROR_HAS(parse_normalizer({{"prepend", "x"}}, "tok.json"), "has no \"type\"");
}

// ---------------------------------------------------------------- pre-tokenizers

TEST(HfTokenizerPreTokenizers, SplitBehaviors) {
  const auto split = [](const char* behavior, bool invert = false) {
    return pieces({{"type", "Split"},
                   {"pattern", {{"String", "-"}}},
                   {"behavior", behavior},
                   {"invert", invert}},
                  "the-final--countdown");
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(split("Removed"), (V{"the", "final", "countdown"}));
  EXPECT_EQ(split("Isolated"), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithPrevious"), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithNext"), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split("Contiguous"), (V{"the", "-", "final", "--", "countdown"}));
  // invert: the text between matches is the delimiter.
  EXPECT_EQ(pieces({{"type", "Split"},
                    {"pattern", {{"Regex", "[a-z]+"}}},
                    {"behavior", "Removed"},
                    {"invert", true}},
                   "ab, cd!"),
            (V{"ab", "cd"}));
  EXPECT_ERROR_HAS(
      pieces({{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", "Glued"}}, "x"),
      "behavior 'Glued'");
}

TEST(HfTokenizerPreTokenizers, OnigurumaRegexSemantics) {
  // The Llama-3 pattern (Qwen's differs only in \p{N}).
  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const json pt = {{"type", "Split"},
                   {"pattern", {{"Regex", llama3}}},
                   {"behavior", "Isolated"},
                   {"invert", false}};
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces(pt, "I'M here   now"), (V{"I", "'M", " here", "  ", " now"}));
  EXPECT_EQ(pieces(pt, "12345 \xC2\xBD"), (V{"123", "45", " ", "\xC2\xBD"}));  // ½ is \p{N}
  // \s is White_Space: U+0085 and U+3000 are, U+FEFF and U+001C are not.
  EXPECT_EQ(pieces(pt,
                   "a\xC2\x85"
                   "b"),
            (V{"a",
               "\xC2\x85"
               "b"}));
  EXPECT_EQ(pieces(pt,
                   "a\xE3\x80\x80\xE3\x80\x80"
                   "b"),
            (V{"a", "\xE3\x80\x80",
               "\xE3\x80\x80"
               "b"}));
  EXPECT_EQ(pieces(pt,
                   "a\xEF\xBB\xBF"
                   "b"),
            (V{"a",
               "\xEF\xBB\xBF"
               "b"}));
  EXPECT_EQ(pieces(pt,
                   "a\x1C"
                   "b"),
            (V{"a",
               "\x1C"
               "b"}));
  EXPECT_EQ(
      onig_to_pcre2(R"(\s[^\s\w]\S\w\h\u00e9)"),
      R"(\p{White_Space}[^\p{White_Space}\p{L}\p{M}\p{Nd}\p{Pc}]\P{White_Space}[\p{L}\p{M}\p{Nd}\p{Pc}][0-9a-fA-F]\x{00e9})");
}

TEST(HfTokenizerPreTokenizers, ByteLevel) {
  using V = std::vector<std::string>;
  const json with = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  EXPECT_EQ(pieces(with, "Hello world!"), (V{"\xC4\xA0Hello", "\xC4\xA0world", "!"}));
  const json plain = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  EXPECT_EQ(pieces(plain, "Hello world"), (V{"Hello", "\xC4\xA0world"}));
  const json no_regex = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
  EXPECT_EQ(pieces(no_regex, "a b\n"), (V{"a\xC4\xA0"
                                          "b\xC4\x8A"}));
  // Every byte maps, ill-formed ones included: 0xFF is 'ÿ', 0x80 is 'Ģ' (U+0122).
  EXPECT_EQ(pieces(no_regex, "\xFF\x80"), (V{"\xC3\xBF\xC4\xA2"}));
}

TEST(HfTokenizerPreTokenizers, MetaspaceAndDigits) {
  using V = std::vector<std::string>;
  const auto meta = [](const char* scheme, bool split) {
    return json{{"type", "Metaspace"},
                {"replacement", kMeta},
                {"prepend_scheme", scheme},
                {"split", split}};
  };
  EXPECT_EQ(pieces(meta("always", true), "Hey  friend"),
            (V{kMeta + "Hey", kMeta, kMeta + "friend"}));
  EXPECT_EQ(pieces(meta("never", true), "Hey friend"), (V{"Hey", kMeta + "friend"}));
  EXPECT_EQ(pieces(meta("always", false), "Hey friend"), (V{kMeta + "Hey" + kMeta + "friend"}));
  EXPECT_EQ(pieces(meta("first", true), "Hey", /*at_start=*/true), (V{kMeta + "Hey"}));
  EXPECT_EQ(pieces(meta("first", true), "Hey", /*at_start=*/false), (V{"Hey"}));
  // Legacy add_prefix_space=false means never.
  EXPECT_EQ(
      pieces({{"type", "Metaspace"}, {"replacement", kMeta}, {"add_prefix_space", false}}, "a b"),
      (V{"a", kMeta + "b"}));
  EXPECT_EQ(pieces({{"type", "Digits"}, {"individual_digits", true}}, "a123b"),
            (V{"a", "1", "2", "3", "b"}));
  EXPECT_EQ(pieces({{"type", "Digits"}, {"individual_digits", false}}, "a123b4"),
            (V{"a", "123", "b", "4"}));
  const json seq = {
      {"type", "Sequence"},
      {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, meta("always", true)}}};
  EXPECT_EQ(pieces(seq, "ab 12"), (V{kMeta + "ab", kMeta, kMeta + "1", kMeta + "2"}));
}

TEST(HfTokenizerPreTokenizers, UnknownTypeIsNamed) {
  EXPECT_ERROR_HAS(parse_pre_tokenizer({{"type", "Whitespace"}}, "tok.json"),
                   "pre-tokenizer type 'Whitespace'");
  EXPECT_ERROR_HAS(
      parse_pre_tokenizer(
          {{"type", "Sequence"}, {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "Bert"}}}}},
          "tok.json"),
      "pre_tokenizer.pretokenizers[1]: pre-tokenizer type 'Bert'");
}

// ---------------------------------------------------------------- added tokens

json added(const std::string& content, int id, json flags = json::object()) {
  json t = {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
            {"rstrip", false}, {"normalized", false}, {"special", true}};
  for (auto it = flags.begin(); it != flags.end(); ++it) t[it.key()] = it.value();
  return t;
}

TEST(HfTokenizerAddedTokens, LeftmostLongestBeforeNormalization) {
  json j = tokenizer_json(bpe({"x", "y", "<", ">", "a", "b"}, json::array()));
  j["added_tokens"] = {added("<a>", 10), added("<a><b>", 11),
                       added("<b>", 12, {{"special", false}})};
  const auto t = make(j);
  EXPECT_EQ(t.encode("x<a><b>y<b><a>"), (Ids{0, 11, 1, 12, 10}));
  EXPECT_EQ(t.encode("<a"), (Ids{2, 4}));
  EXPECT_EQ(t.decode(Ids{0, 11, 1}), "x <a><b> y");  // no decoder: tokens joined by spaces
  EXPECT_EQ(t.id_to_piece(12), "<b>");
  EXPECT_EQ(t.vocab_size(), 13);
}

TEST(HfTokenizerAddedTokens, LstripRstripSingleWord) {
  json j = tokenizer_json(bpe({"a", "b", " ", "h", "i", "t", "s"}, json::array()));
  j["added_tokens"] = {added("<m>", 20, {{"lstrip", true}, {"rstrip", true}}),
                       added("hi", 21, {{"single_word", true}})};
  const auto t = make(j);
  EXPECT_EQ(t.encode("a  <m>  b"), (Ids{0, 20, 1}));  // the spaces around <m> are swallowed
  EXPECT_EQ(t.encode("hi a"), (Ids{21, 2, 0}));
  EXPECT_EQ(t.encode("this"), (Ids{5, 3, 4, 6}));  // inside a word: not the added token
  EXPECT_EQ(t.encode("ahi"), (Ids{0, 3, 4}));
}

TEST(HfTokenizerAddedTokens, NormalizedTokensAreFoundAfterTheNormalizer) {
  json j = tokenizer_json(bpe({"a", "X", "x", "!"}, json::array()));
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", "X"}}}, {"content", "x"}};
  j["added_tokens"] = {added("X!", 30, {{"normalized", true}, {"special", false}}),
                       added("a!", 31, {{"normalized", false}})};
  const auto t = make(j);
  // "X!" is searched as its normalized form "x!", in normalized text.
  EXPECT_EQ(t.encode("aX!x!"), (Ids{0, 30, 30}));
  EXPECT_EQ(t.encode("a!"), (Ids{31}));
  EXPECT_EQ(t.id_to_piece(30), "x!");  // decoding gives the normalized form, as the reference
}

TEST(HfTokenizerAddedTokens, PerSectionNormalization) {
  // Llama-2 style: Prepend applies to each section between added tokens.
  json j = tokenizer_json(bpe({kMeta, "a", kMeta + "a"}, {kMeta + " a"}));
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers",
                      {{{"type", "Prepend"}, {"prepend", kMeta}},
                       {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMeta}}}}};
  j["added_tokens"] = {added("</s>", 3)};
  EXPECT_EQ(make(j).encode("a</s>a a"), (Ids{2, 3, 2, 2}));
}

// ---------------------------------------------------------------- post-processor, BOS

TEST(HfTokenizerPostProcessor, TemplateAndBos) {
  json j = tokenizer_json(bpe({"<s>", "</s>", "a"}, json::array()));
  j["added_tokens"] = {added("<s>", 0), added("</s>", 1)};
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single",
                          {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                           {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                           {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
                         {"special_tokens",
                          {{"<s>", {{"id", "<s>"}, {"ids", {0}}, {"tokens", {"<s>"}}}},
                           {"</s>", {{"id", "</s>"}, {"ids", {1}}, {"tokens", {"</s>"}}}}}}};
  const auto t = make(j);
  EXPECT_TRUE(t.add_bos);
  EXPECT_EQ(t.bos_id, 0);
  EXPECT_EQ(t.encode_with_special("aa"), (Ids{0, 2, 2, 1}));
  EXPECT_EQ(t.encode_with_special(""), (Ids{0, 1}));
  EXPECT_EQ(t.encode_with_special("aa", false), (Ids{2, 2}));

  // transformers' LlamaTokenizerFast rebuilds the template from tokenizer_config.json.
  const json cfg = {{"tokenizer_class", "LlamaTokenizer"},
                    {"add_bos_token", false},
                    {"add_eos_token", true},
                    {"bos_token", "<s>"},
                    {"eos_token", {{"content", "</s>"}}}};
  const auto l = make(j, cfg);
  EXPECT_FALSE(l.add_bos);
  EXPECT_EQ(l.encode_with_special("a"), (Ids{2, 1}));
  // Other tokenizer classes leave tokenizer.json's post-processor alone.
  EXPECT_EQ(make(j, json{{"tokenizer_class", "PreTrainedTokenizerFast"}, {"add_bos_token", false}})
                .encode_with_special("a"),
            (Ids{0, 2, 1}));

  j["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       {{{"type", "ByteLevel"}},
        {{"type", "BertProcessing"}, {"sep", {"</s>", 1}}, {"cls", {"<s>", 0}}}}}};
  EXPECT_EQ(make(j).encode_with_special("a"), (Ids{0, 2, 1}));
  j["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}};
  EXPECT_FALSE(make(j).add_bos);
  EXPECT_EQ(make(j).encode_with_special("a"), (Ids{2}));
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", {{{"SpecialToken", {{"id", "[CLS]"}}}}}},
                         {"special_tokens", json::object()}};
  EXPECT_ERROR_HAS(make(j), "uses special token '[CLS]'");
  j["post_processor"] = {{"type", "Mystery"}};
  EXPECT_ERROR_HAS(make(j), "post-processor type 'Mystery'");
}

// ---------------------------------------------------------------- decoders

TEST(HfTokenizerDecoders, EachDecoder) {
  const json seq = {{"type", "Sequence"},
                    {"decoders",
                     {{{"type", "Replace"}, {"pattern", {{"String", kMeta}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  EXPECT_EQ(decoded(seq, {kMeta + "Hi", "<0xC3>", "<0xA9>", kMeta + "x"}), "Hi\xC3\xA9 x");
  // A byte run that is not UTF-8: one U+FFFD per byte token.
  EXPECT_EQ(decoded(seq, {"a", "<0xE2>", "<0x82>", "b"}),
            "a\xEF\xBF\xBD\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(decoded(seq, {kMeta + kMeta + "a"}), " a");  // Strip removes one space only

  const json bl = {{"type", "ByteLevel"}};
  // "ö" is bytes C3 B6, shown as "Ã¶"; the character "ö" itself stands for the lone byte F6.
  EXPECT_EQ(decoded(bl, {"\xC4\xA0hello", "\xC4\xA0w\xC3\x83\xC2\xB6rld", "\xC4\x8A"}),
            " hello w\xC3\xB6rld\n");
  EXPECT_EQ(decoded(bl, {"w\xC3\xB6"}), "w\xEF\xBF\xBD");
  EXPECT_EQ(decoded(bl, {"\xC3\xA2\xC4\xA4"}), "\xEF\xBF\xBD");  // bytes E2 82: one maximal subpart
  EXPECT_EQ(decoded(bl, {"\xE2\x82\xAC"}), "\xE2\x82\xAC");      // € is not in the alphabet: kept

  const json ms = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "always"}};
  EXPECT_EQ(decoded(ms, {kMeta + "Hey", kMeta + "friend"}), "Hey friend");
  const json never = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "never"}};
  EXPECT_EQ(decoded(never, {kMeta + "Hey", kMeta + "friend"}), " Hey friend");
  EXPECT_EQ(decoded(nullptr, {"a", "b"}), "a b");
  EXPECT_ERROR_HAS(parse_decoder({{"type", "WordPiece"}}, "tok.json"), "decoder type 'WordPiece'");
  EXPECT_ERROR_HAS(parse_decoder({{"type", "Strip"}, {"content", "ab"}}, "tok.json"),
                   "exactly one character");
}

// ---------------------------------------------------------------- bad input, invalid UTF-8

TEST(HfTokenizerBadInput, ModelErrorsNameTheProblem) {
  EXPECT_ERROR_HAS(make(tokenizer_json(bpe({"a", "b"}, {"a c"}))),
                   "model.merges[0] ('a c') refers to 'c', which is not in the vocabulary");
  EXPECT_ERROR_HAS(make(tokenizer_json(bpe({"a", "b"}, {"a b"}))),
                   "makes 'ab', which is not in the vocabulary");
  EXPECT_ERROR_HAS(make(tokenizer_json(bpe({}, json::array()))), "vocabulary is empty");
  EXPECT_ERROR_HAS(make(tokenizer_json(bpe({"a"}, json::array(), {{"unk_token", "<unk>"}}))),
                   "unk_token '<unk>' is not in the vocabulary");
  EXPECT_ERROR_HAS(make(tokenizer_json(bpe({"a"}, {"a b c"}))), "merges[0]");
  EXPECT_ERROR_HAS(make(tokenizer_json(bpe({"a"}, json::array(), {{"dropout", 0.1}}))), "dropout");
  json unigram = tokenizer_json(json::object());
  unigram["model"] = {{"type", "Unigram"}, {"vocab", json::array()}};
  EXPECT_ERROR_HAS(make(unigram), "model type 'Unigram' is not supported");
  json vocab_ids = tokenizer_json(bpe({"a"}, json::array()));
  vocab_ids["model"]["vocab"]["b"] = "one";
  EXPECT_ERROR_HAS(make(vocab_ids), "model.vocab['b'] is not an integer id");
  EXPECT_ERROR_HAS(make(json::array()), "not a tokenizer.json");
}

TEST(HfTokenizerBadInput, MalformedJsonFileNamesTheFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("loaq_hf_tok_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "tokenizer.json").string();
  std::ofstream(path) << "{\"model\": {\"type\": \"BPE\", ";
  EXPECT_ERROR_HAS(load_tokenizer(dir.string()), path);
  std::ofstream(path) << "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}";
  EXPECT_ERROR_HAS(load_tokenizer(dir.string()), "model type 'WordPiece'");
  std::filesystem::remove_all(dir);
}

TEST(HfTokenizerBadInput, InvalidUtf8IsEncodedAsBytes) {
  // Byte-level: every byte, well-formed or not, is a token of the alphabet (id = byte here).
  json j = tokenizer_json(bpe(byte_alphabet(), json::array()));
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}};
  const auto t = make(j);
  const std::string bad =
      "a\xFF"
      "b\xE2\x82 c\xC3";
  EXPECT_EQ(t.encode(bad), (Ids{'a', 0xFF, 'b', 0xE2, 0x82, ' ', 'c', 0xC3}));
  // Decoding gives U+FFFD for each maximal ill-formed subpart, as the reference does.
  EXPECT_EQ(t.decode(t.encode(bad)),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD c\xEF\xBF\xBD");
  // byte_fallback: ill-formed bytes become <0xXX> tokens.
  std::vector<std::string> v = {"<unk>", "a"};
  for (int b = 0; b < 256; ++b) v.push_back(fmt::format("<0x{:02X}>", b));
  const auto f = make(
      tokenizer_json(bpe(v, json::array(), {{"byte_fallback", true}, {"unk_token", "<unk>"}})));
  EXPECT_EQ(f.encode("a\xFF\xE2\x82"), (Ids{1, 2 + 0xFF, 2 + 0xE2, 2 + 0x82}));
  // Without byte tokens an ill-formed subpart is one unknown character.
  const auto u = make(tokenizer_json(bpe({"<unk>", "a"}, json::array(), {{"unk_token", "<unk>"}})));
  EXPECT_EQ(u.encode("a\xE2\x82"
                     "a\xFF\xFE"),
            (Ids{1, 0, 1, 0, 0}));
}

TEST(HfTokenizerBadInput, UnknownIds) {
  const auto t = make(tokenizer_json(bpe({"a", "b"}, json::array())));
  EXPECT_EQ(t.decode(Ids{0, 99, 1, -5}), "a b");  // ids that no token has are skipped
  EXPECT_ERROR_HAS(t.id_to_piece(99), "no token has id 99");
}

// ---------------------------------------------------------------- one interface for both families

TEST(HfTokenizerSelection, TokenizerJsonWinsInADirectory) {
  LOAQ_REQUIRE_ASSET(dir, "tokenizers/llama2");
  const auto tok = load_tokenizer(dir);
  EXPECT_EQ(tok->source(), dir + "/tokenizer.json");
  EXPECT_NE(dynamic_cast<const HfTokenizer*>(tok.get()), nullptr);
  EXPECT_TRUE(tok->add_bos);
  EXPECT_EQ(tok->bos_id, 1);
  const auto sp = load_tokenizer(dir + "/tokenizer.model");
  EXPECT_EQ(sp->source(), dir + "/tokenizer.model");
  // Same ids for text without literal special tokens, same pieces, same BOS.
  const std::string text = "Hello world, 123 caf\xC3\xA9!\n  indented";
  EXPECT_EQ(tok->encode_with_special(text), sp->encode_with_special(text));
  EXPECT_EQ(tok->id_to_piece(15043), sp->id_to_piece(15043));
  EXPECT_EQ(tok->vocab_size(), sp->vocab_size());
}

}  // namespace
}  // namespace loaq
