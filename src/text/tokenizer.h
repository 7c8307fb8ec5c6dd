#pragma once
// The tokenizer of a checkpoint, whatever file it comes from, behind one interface.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/model_config.h"

namespace loaq {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Token ids of `text` without any special tokens. `text` need not be valid UTF-8: a
  // tokenizer.json encodes ill-formed bytes as byte tokens (hf_tokenizer.h); SentencePiece replaces
  // each ill-formed byte with U+FFFD first (libsentencepiece's own rule), so those bytes are lost.
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // Where the tokenizer came from (a file path), for messages and reports.
  virtual std::string source() const = 0;
  // The token string of `id` (the vocabulary piece, e.g. "▁the" or "Ġthe"). Throws loaq::Error
  // when no token has this id.
  virtual std::string id_to_piece(int32_t id) const = 0;

  // `ids` (an encoded text) with the special tokens the Hugging Face tokenizer adds when called
  // with add_special_tokens=true. Default: BOS in front when add_bos; a tokenizer.json overrides
  // it with its post-processor.
  virtual std::vector<int32_t> with_special_tokens(std::vector<int32_t> ids) const;

  // BOS as the Hugging Face tokenizer adds it when called on a text: SentencePiece models follow
  // tokenizer_config.json add_bos_token (LlamaTokenizer's default is true); a tokenizer.json adds
  // it when its post-processor puts a special token in front of the text (bos_id is that token).
  std::optional<int32_t> bos_id;
  bool add_bos = false;

  // encode(), then with_special_tokens() when `special` is true.
  std::vector<int32_t> encode_with_special(std::string_view text, bool special = true) const;
};

// Loads the tokenizer a Hugging Face model directory holds, or the tokenizer file (tokenizer.json
// or tokenizer.model) given directly, with the tokenizer_config.json beside it. In a directory,
// tokenizer.json wins over tokenizer.model when both are present, as in transformers. Throws
// loaq::Error naming the path when there is no tokenizer or it cannot be loaded.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// The tokenizer of the model directory `dir` whose config is `c` (load_tokenizer), checked against
// the model: every token id must have a row in the embedding (vocab_size of config.json). Every
// command that runs a model loads its tokenizer through this.
std::unique_ptr<Tokenizer> load_model_tokenizer(const std::string& dir, const ModelConfig& c);
// The check alone: throws loaq::Error naming the tokenizer file and config.json.
void check_tokenizer_fits(const Tokenizer& tok, const ModelConfig& c, const std::string& dir);

}  // namespace loaq
