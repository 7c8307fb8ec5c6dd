#pragma once
// The regular expressions of tokenizer.json (Split pre-tokenizer, Replace normalizer and decoder,
// the GPT-2 ByteLevel split) through PCRE2, compiled with UTF, Unicode properties and JIT.
//
// The reference compiles these patterns with Oniguruma, whose escapes differ from PCRE2's in a few
// places; the pattern is rewritten so they mean what Oniguruma means:
//   \s \S  -> Unicode White_Space (PCRE2's \s is a slightly different set)
//   \w \W  -> letters, marks, decimal digits, connector punctuation (PCRE2: letters, all numbers,
//   _) \h \H  -> hexadecimal digits (PCRE2: horizontal space) \uHHHH -> the code point U+HHHH
//   (?m)   -> (?s): Ruby-style option letters, where m lets '.' match a newline
// ^ and $ match at line boundaries (Oniguruma's default syntax has no single-line option).
// Everything else used by tokenizer files (\p{..}, (?i:..), lookarounds, counted and possessive
// repeats) has the same meaning in both.
//
// Input that is not valid UTF-8 is searched as it is (PCRE2_MATCH_INVALID_UTF): an ill-formed byte
// sequence never matches any part of a pattern, so it always falls between matches.
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loaq {

class HfRegex {
 public:
  // Compiles `pattern` (Oniguruma syntax, as in tokenizer.json). Throws loaq::Error naming `where`
  // and PCRE2's message when it does not compile.
  static HfRegex pattern(std::string_view pattern, const std::string& where);
  // A pattern that matches `text` literally (tokenizer.json's {"String": ...} patterns).
  static HfRegex literal(std::string_view text, const std::string& where);

  // Byte ranges [begin, end) of the successive non-overlapping matches in `s`, leftmost first (an
  // empty match is not reported right after the previous match, as Oniguruma's find_iter does).
  // Throws loaq::Error if PCRE2 gives up (resource limits).
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view s) const;

  // The pattern as written in tokenizer.json, for messages.
  const std::string& source() const { return source_; }

 private:
  struct Code;
  static std::shared_ptr<const Code> compile(std::string_view pattern, uint32_t options,
                                             const std::string& where, std::string_view shown);
  HfRegex(std::shared_ptr<const Code> code, std::string source)
      : code_(std::move(code)), source_(std::move(source)) {}
  std::shared_ptr<const Code> code_;
  std::string source_;
};

// Parses the "pattern" field of the component at `path` in tokenizer.json: {"String": s} (literal)
// or {"Regex": r}. Errors name `where` and `path`.
HfRegex parse_hf_pattern(const nlohmann::json& component, const std::string& where,
                         const std::string& path);

// `s` with every non-overlapping match of `pattern`, left to right, replaced by `content` (taken
// literally).
std::string replace_all(const HfRegex& pattern, std::string_view content, std::string_view s);

// Rewrites Oniguruma escapes into their PCRE2 equivalents (see above). Exposed for tests.
std::string onig_to_pcre2(std::string_view pattern);

}  // namespace loaq
