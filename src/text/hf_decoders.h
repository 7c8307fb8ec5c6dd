#pragma once
// The "decoder" of a tokenizer.json: turns the token strings of a sequence of ids back into text.
// Supported: Sequence (flattened into a chain), ByteLevel, Metaspace, Replace, ByteFallback, Fuse,
// Strip; with no decoder (null) the tokens are joined with spaces, as in the reference.
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "text/hf_regex.h"

namespace loaq {

enum class DecoderKind { kByteLevel, kMetaspace, kReplace, kByteFallback, kFuse, kStrip };

struct DecoderStep {
  DecoderKind kind = DecoderKind::kFuse;
  std::optional<HfRegex> pattern;  // Replace
  std::string content;             // Replace: the replacement; Metaspace / Strip: the character
  bool prepend = true;             // Metaspace: prepend_scheme is not "never"
  size_t start = 0, stop = 0;      // Strip: how many leading / trailing `content` to remove
};

struct DecoderChain {
  bool present = false;  // false: "decoder" was null
  std::vector<DecoderStep> steps;
};

// Parses tokenizer.json's "decoder" value. Throws loaq::Error naming `where`, the JSON path and the
// type for an unknown type or a malformed entry.
DecoderChain parse_decoder(const nlohmann::json& j, const std::string& where);

// Decodes token strings (each step maps the list of strings to a new list, then they are joined):
//   ByteLevel: each token whose characters are all in the byte-level alphabet becomes those bytes
//     (other tokens their own UTF-8); the bytes of all tokens are then read as UTF-8, every
//     ill-formed subpart becoming U+FFFD;
//   Metaspace: the replacement becomes a space, except in the first token when prepend is set,
//     where it is removed;
//   Replace: pattern -> content in each token;
//   ByteFallback: each run of <0xXX> tokens becomes the string of its bytes when they are valid
//     UTF-8, else one U+FFFD per byte token;
//   Fuse: all tokens joined into one;
//   Strip: up to `start` leading and `stop` trailing `content` characters removed from each token.
std::string decode_tokens(const DecoderChain& chain, std::vector<std::string> tokens);

}  // namespace loaq
