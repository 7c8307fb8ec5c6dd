#pragma once
// A Hugging Face tokenizer.json (BPE model), id-exact with the reference `tokenizers` library.
//
// encode(text) runs the reference pipeline:
//   1. added tokens with normalized=false are found in the raw text (hf_added_tokens.h);
//   2. every other section is normalized (hf_normalizers.h), then added tokens with normalized=true
//      are found in it;
//   3. every remaining section is pre-tokenized (hf_pre_tokenizers.h) and each piece goes through
//      the BPE model (hf_bpe.h).
// with_special_tokens applies the post-processor (hf_post_processor.h); decode maps ids to token
// strings (added tokens first, unknown ids skipped) and runs the decoder (hf_decoders.h).
//
// Input that is not valid UTF-8 (which the reference never sees: it takes Rust or JavaScript
// strings) is tokenized, never rejected: ill-formed bytes pass the normalizers unchanged, are never
// matched by a pre-tokenizer regex (so they end up in pieces of their own or with their
// non-matching neighbours), and in the model they become byte tokens (the byte-level alphabet, or
// <0xXX> with byte_fallback), else unk_token, else nothing. Decoding gives U+FFFD for bytes that do
// not form UTF-8, as the reference does.
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "text/hf_added_tokens.h"
#include "text/hf_bpe.h"
#include "text/hf_decoders.h"
#include "text/hf_normalizers.h"
#include "text/hf_post_processor.h"
#include "text/hf_pre_tokenizers.h"
#include "text/tokenizer.h"

namespace loaq {

class HfTokenizer final : public Tokenizer {
 public:
  // Builds the tokenizer from a parsed tokenizer.json. `config` is tokenizer_config.json (or null);
  // when its tokenizer_class is a Llama one, the post-processor becomes transformers'
  // LlamaTokenizerFast template ([bos] $A [eos] per add_bos_token, default true, and
  // add_eos_token, default false). `source` names the file in messages. Throws loaq::Error naming
  // `source`, the component and the problem.
  HfTokenizer(const nlohmann::json& tokenizer, const nlohmann::json& config, std::string source);

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  // One more than the largest id of the model or the added tokens.
  int64_t vocab_size() const override;
  std::string source() const override { return source_; }
  std::string id_to_piece(int32_t id) const override;
  std::vector<int32_t> with_special_tokens(std::vector<int32_t> ids) const override;

  const BpeModel& model() const { return *model_; }
  const AddedVocabulary& added_tokens() const { return added_; }

 private:
  void encode_section(std::string_view section, bool at_start, std::vector<int32_t>& ids) const;

  std::string source_;
  NormalizerChain normalizer_;
  PreTokenizerChain pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  AddedVocabulary added_;
  PostProcessor post_processor_;
  DecoderChain decoder_;
};

// Reads `json_path` (a tokenizer.json) and the tokenizer_config.json beside it when present.
// Throws loaq::Error naming the file for malformed JSON or an unsupported component.
std::unique_ptr<HfTokenizer> load_hf_tokenizer(const std::string& json_path);

}  // namespace loaq
