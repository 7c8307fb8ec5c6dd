#pragma once
// The "post_processor" of a tokenizer.json: what encode(text, add_special_tokens=true) adds around
// the ids of a single sequence. Supported: TemplateProcessing (its "single" template),
// BertProcessing and RobertaProcessing ([cls] $A [sep]), ByteLevel (adds nothing), Sequence, and
// null (adds nothing).
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace loaq {

// One item of a single-sequence template: the sequence itself, or fixed special-token ids.
struct TemplateItem {
  bool is_sequence = false;
  std::vector<int32_t> ids;  // when !is_sequence
};

// Templates applied in order (a Sequence of processors composes them). Empty: adds nothing.
using PostProcessor = std::vector<std::vector<TemplateItem>>;

// Parses tokenizer.json's "post_processor" value (the ids are those the file gives). Throws
// loaq::Error naming `where` and the JSON path for an unknown type or a malformed entry.
PostProcessor parse_post_processor(const nlohmann::json& j, const std::string& where);

// The single-sequence template transformers' LlamaTokenizerFast builds from tokenizer_config.json:
// [bos] $A [eos], with the items present as the flags say.
PostProcessor llama_template(std::optional<int32_t> bos, std::optional<int32_t> eos);

// `ids` with the post-processor's special tokens around it.
std::vector<int32_t> post_process(const PostProcessor& p, std::vector<int32_t> ids);

// The first id the post-processor puts before the sequence (its BOS), or nullopt.
std::optional<int32_t> leading_special(const PostProcessor& p);

}  // namespace loaq
