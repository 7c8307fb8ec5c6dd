#pragma once
// The "normalizer" of a tokenizer.json: applied to each section of the input between added tokens,
// before pre-tokenization. Supported: Sequence (flattened into a chain), Prepend, Replace (String
// or Regex pattern), NFC, NFD, NFKC, NFKD (through ICU), Strip, and null (no normalizer).
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "text/hf_regex.h"

namespace loaq {

enum class NormalizerKind { kPrepend, kReplace, kNfc, kNfd, kNfkc, kNfkd, kStrip };

struct NormalizerStep {
  NormalizerKind kind = NormalizerKind::kNfc;
  std::string text;                              // Prepend: the prefix; Replace: the replacement
  std::optional<HfRegex> pattern;                // Replace: what is replaced
  bool strip_left = false, strip_right = false;  // Strip
};

using NormalizerChain = std::vector<NormalizerStep>;

// Parses tokenizer.json's "normalizer" value (null gives an empty chain). Throws loaq::Error naming
// `where`, the JSON path and the type for an unknown type or a malformed entry.
NormalizerChain parse_normalizer(const nlohmann::json& j, const std::string& where);

// Applies the chain to `s`, step by step:
//   Prepend: adds the prefix unless s is empty;  Replace: every non-overlapping match, left to
//   right, becomes the replacement (taken literally);  NF*: Unicode normalization of each
//   well-formed stretch of s (ill-formed bytes are kept as they are);  Strip: removes White_Space
//   characters at the chosen ends.
std::string normalize(const NormalizerChain& chain, std::string s);

}  // namespace loaq
