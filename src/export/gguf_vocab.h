#pragma once
// The tokenizer of a Hugging Face directory as GGUF metadata, as llama.cpp's convert_hf_to_gguf.py
// writes it:
//  - SentencePiece (tokenizer.model): tokenizer.ggml.model "llama", pre "default", tokens, scores,
//    token types (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte), padded to
//    the config's vocab_size with "[PADi]" (unused, score −10000);
//  - byte-level BPE (tokenizer.json): "gpt2" with tokens, types and merges, and the
//    pre-tokenizer llama.cpp expects: "llama-bpe" for Llama 3's split regex, "qwen2" for Qwen's;
//    another regex is refused (llama.cpp would tokenize it differently);
//  - bos/eos/unknown/padding ids from tokenizer_config.json and config.json; add_bos_token as
//    loaq's tokenizer adds BOS (always written: llama.cpp's default depends on the pre-tokenizer),
//    add_eos_token when tokenizer_config.json has it.
// tokenizer.json wins over tokenizer.model when both exist, as in transformers.
#include <string>
#include <utility>
#include <vector>

#include "io/gguf.h"
#include "io/model_config.h"

namespace loaq {

std::vector<std::pair<std::string, GgufValue>> gguf_tokenizer_metadata(const std::string& dir,
                                                                       const ModelConfig& c);

}  // namespace loaq
