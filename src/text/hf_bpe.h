#pragma once
// The BPE model of a Hugging Face tokenizer.json ("model": {"type": "BPE", ...}), as the reference
// `tokenizers` crate runs it on one pre-token ("word"):
//   1. ignore_merges: a word that is itself in the vocabulary is one token, without merging;
//   2. the word is cut into characters (continuing_subword_prefix before every character but the
//      first, end_of_word_suffix after the last); a character missing from the vocabulary becomes
//      its UTF-8 bytes as <0xXX> tokens when byte_fallback is set and all of them exist, else
//      unk_token (consecutive ones fused into one when fuse_unk), else it is dropped;
//   3. merges: repeatedly the adjacent pair with the lowest rank (index in "merges") is merged,
//      leftmost first among equal ranks, through a priority queue (O(n log n) in the word length).
// An ill-formed UTF-8 subpart of the word is one character that no vocabulary holds.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "text/vocab.h"

namespace loaq {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::optional<std::string> continuing_subword_prefix;
  std::optional<std::string> end_of_word_suffix;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class BpeModel {
 public:
  // Builds the model. Throws loaq::Error naming `where` for an empty vocabulary, a merge whose
  // parts or result are not in the vocabulary, or an unk_token that is not in it.
  BpeModel(TokenVocab vocab, const std::vector<std::pair<std::string, std::string>>& merges,
           BpeOptions options, const std::string& where);

  // Parses tokenizer.json's "model" object (type BPE; merges as "a b" strings or ["a", "b"]
  // pairs). Errors name `where` and the offending field or entry.
  static BpeModel from_json(const nlohmann::json& model, const std::string& where);

  // Appends the ids of `word` to `out`. Thread-safe.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  const TokenVocab& vocab() const { return vocab_; }
  const BpeOptions& options() const { return options_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  // (left id, right id) -> merge, open addressing on the packed 64-bit pair.
  struct PairTable {
    std::vector<uint64_t> keys;  // ~0: empty
    std::vector<Merge> values;
    void insert(uint64_t key, Merge m);
    const Merge* find(uint64_t key) const;
  };
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  TokenVocab vocab_;
  PairTable merges_;
  BpeOptions options_;
  int32_t unk_id_ = -1;
  int32_t byte_ids_[256];  // <0xXX> ids for byte_fallback, -1 when missing

  // Words already merged (short ones), as the reference caches them; bounded.
  struct Cache {
    struct Hash {
      using is_transparent = void;
      size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> words;
  };
  std::unique_ptr<Cache> cache_ = std::make_unique<Cache>();
};

}  // namespace loaq
