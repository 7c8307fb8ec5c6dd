#pragma once
// SentencePiece `tokenizer.model` through libsentencepiece.
#include <memory>

#include "text/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace loaq {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Throws loaq::Error naming the file if it cannot be loaded.
  explicit SentencePieceTokenizer(const std::string& model_file);
  ~SentencePieceTokenizer() override;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int64_t vocab_size() const override;
  std::string source() const override { return path_; }
  std::string id_to_piece(int32_t id) const override;
  // The id of a piece, or nullopt.
  std::optional<int32_t> piece_id(const std::string& piece) const;
  // The model's own BOS id (-1 when it has none).
  int32_t model_bos_id() const;

 private:
  std::string path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace loaq
