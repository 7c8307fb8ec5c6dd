#include "text/sp_tokenizer.h"

#include <sentencepiece_processor.h>

#include "core/error.h"

namespace loaq {

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_file)
    : path_(model_file), sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  const auto st = sp_->Load(model_file);
  if (!st.ok()) fail("{}: cannot load SentencePiece model: {}", model_file, st.ToString());
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  const auto st = sp_->Encode(std::string(text), &ids);
  if (!st.ok()) fail("{}: encoding failed: {}", path_, st.ToString());
  return {ids.begin(), ids.end()};
}

std::string SentencePieceTokenizer::decode(std::span<const int32_t> ids) const {
  std::vector<int> v(ids.begin(), ids.end());
  std::string out;
  const auto st = sp_->Decode(v, &out);
  if (!st.ok()) fail("{}: decoding failed: {}", path_, st.ToString());
  return out;
}

int64_t SentencePieceTokenizer::vocab_size() const { return sp_->GetPieceSize(); }

std::string SentencePieceTokenizer::id_to_piece(int32_t id) const {
  if (id < 0 || id >= sp_->GetPieceSize()) fail("{}: no token has id {}", path_, id);
  return sp_->IdToPiece(id);
}

std::optional<int32_t> SentencePieceTokenizer::piece_id(const std::string& piece) const {
  const int id = sp_->PieceToId(piece);
  if (id == sp_->unk_id() && sp_->IdToPiece(id) != piece) return std::nullopt;
  return id;
}

int32_t SentencePieceTokenizer::model_bos_id() const { return sp_->bos_id(); }

}  // namespace loaq
