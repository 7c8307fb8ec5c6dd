#pragma once
// The added tokens of a tokenizer.json ("added_tokens": special and normal ones). They are found in
// the input before the normalizer runs, as the reference does: first the tokens with
// normalized=false in the raw text, then, in each remaining section after normalization, the tokens
// with normalized=true (in their normalized form). Matching is leftmost-longest and
// non-overlapping, byte-exact; per token:
//   single_word: a match touching a word character (regex \w) on either side is ignored;
//   lstrip / rstrip: the match swallows the White_Space before / after it (lstrip never reaches
//     back into the previous match).
// An ignored match is not retried at a shorter length or a later start inside it.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/hf_normalizers.h"
#include "text/vocab.h"

namespace loaq {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  // What is searched for and what decoding gives: the content, under the normalizer when
  // `normalized` (set by AddedVocabulary).
  std::string form;
};

// A stretch [begin, end) of the searched string: an added token (id >= 0) or text (id == -1).
struct AddedSection {
  size_t begin = 0, end = 0;
  int32_t id = -1;
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  // `tokens` with their final ids; a token whose normalized flag is set is searched in its form
  // under `normalizer`. Tokens with empty content are ignored.
  AddedVocabulary(std::vector<AddedToken> tokens, const NormalizerChain& normalizer);

  // Parses tokenizer.json's "added_tokens" array. A token whose content is in the model vocabulary
  // takes the model's id (as in the reference); others keep the id of the file. Errors name
  // `where` and the entry.
  static std::vector<AddedToken> parse(const nlohmann::json& j, const TokenVocab& model_vocab,
                                       const std::string& where);

  // Cuts `s` into sections, searching the tokens whose normalized flag equals `normalized`.
  // Sections are in order, cover s without gaps, and are non-empty (s empty: no sections).
  void split(std::string_view s, bool normalized, std::vector<AddedSection>& out) const;

  // The token with `id`, or nullptr.
  const AddedToken* find(int32_t id) const;
  // The id of the added token whose content is `content`, or -1.
  int32_t find(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // A byte trie over the searched strings of one group (raw or normalized).
  struct Trie {
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;
      int32_t token = -1;  // index into tokens_ when a string ends here
    };
    std::vector<Node> nodes = std::vector<Node>(1);
    void add(std::string_view s, int32_t token);
    // Index of the longest string starting at s[i], and its length; -1 if none.
    int32_t longest(std::string_view s, size_t i, size_t* len) const;
  };

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;  // first token with each id
  Trie raw_, normalized_;
};

}  // namespace loaq
