#pragma once
// The "pre_tokenizer" of a tokenizer.json: cuts a normalized section into the pieces ("words") the
// model tokenizes one by one. Supported: Sequence (flattened into a chain), Split (regex or string
// pattern, any behavior, invert), ByteLevel (add_prefix_space, use_regex), Metaspace (replacement,
// prepend_scheme or the legacy add_prefix_space, split), Digits (individual_digits), and null.
// Empty pieces are dropped after every step, as in the reference.
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/hf_regex.h"

namespace loaq {

// How the matches of a pattern cut a string (the reference's SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

enum class PreTokenizerKind { kSplit, kByteLevel, kMetaspace, kDigits };

// When Metaspace puts its replacement character in front of a piece.
enum class PrependScheme { kAlways, kFirst, kNever };

struct PreTokenizerStep {
  PreTokenizerKind kind = PreTokenizerKind::kSplit;
  std::optional<HfRegex> pattern;                         // Split; ByteLevel with use_regex
  SplitBehavior behavior = SplitBehavior::kIsolated;      // Split
  bool invert = false;                                    // Split
  bool add_prefix_space = false;                          // ByteLevel
  std::string replacement;                                // Metaspace (one character, UTF-8)
  PrependScheme prepend_scheme = PrependScheme::kAlways;  // Metaspace
  bool split = true;                                      // Metaspace
  bool individual_digits = false;                         // Digits
};

using PreTokenizerChain = std::vector<PreTokenizerStep>;

// A piece of a section. `at_start`: the piece begins at offset 0 of the whole input (what
// Metaspace's prepend_scheme "first" tests).
struct PreToken {
  std::string text;
  bool at_start = false;
};

// Parses tokenizer.json's "pre_tokenizer" value (null gives an empty chain). Throws loaq::Error
// naming `where`, the JSON path and the type for an unknown type or a malformed entry.
PreTokenizerChain parse_pre_tokenizer(const nlohmann::json& j, const std::string& where);

// Runs the chain over one normalized section and appends its non-empty pieces to `out`:
//   Split: the pattern's matches (or, with invert, the text between them) are the delimiters, kept
//     or merged per `behavior`;
//   ByteLevel: a space is prepended when add_prefix_space and the piece does not start with one;
//     with use_regex the piece is cut by GPT-2's pattern; then every byte becomes its byte-level
//     character (byte_level.h), ill-formed UTF-8 included;
//   Metaspace: spaces become the replacement, which is prepended per prepend_scheme unless the
//     piece starts with it; with split, the piece is cut before every replacement character;
//   Digits: runs of numeric characters (each digit alone with individual_digits) are isolated.
void pre_tokenize(const PreTokenizerChain& chain, std::string section, bool at_start,
                  std::vector<PreToken>& out);

// Cuts `s` at the matches [begin, end) of a pattern as the reference's NormalizedString::split
// does, appending the non-empty pieces to `out`. Exposed for tests.
void split_by_matches(std::string_view s, const std::vector<std::pair<size_t, size_t>>& matches,
                      bool invert, SplitBehavior behavior, std::vector<std::string_view>& out);

}  // namespace loaq
