#pragma once
// The tokenizer of a checkpoint, whatever file it comes from, behind one interface.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace loaq {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Token ids of `text` without any special tokens.
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // Where the tokenizer came from (a file path), for messages and reports.
  virtual std::string source() const = 0;

  // BOS as the Hugging Face tokenizer adds it when called on a text (tokenizer_config.json
  // add_bos_token; LlamaTokenizer's default is true).
  std::optional<int32_t> bos_id;
  bool add_bos = false;

  // encode() with BOS prepended when the tokenizer adds one and `special` is true.
  std::vector<int32_t> encode_with_special(std::string_view text, bool special = true) const;
};

// Loads the tokenizer a Hugging Face model directory holds (or a tokenizer file given directly).
// tokenizer.json wins over tokenizer.model when both are present, as in transformers. Throws
// loaq::Error naming the directory when there is none.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace loaq
