#pragma once
// How llama.cpp names a Hugging Face decoder in GGUF (its convert_hf_to_gguf.py, for the llama,
// qwen2 and qwen3 architectures): tensor names, the architecture's metadata keys, and llama's
// row permutation of q and k.
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/gguf.h"
#include "io/model_config.h"

namespace loaq {

// "model.layers.3.self_attn.q_proj.weight" → "blk.3.attn_q.weight", "model.embed_tokens.weight"
// → "token_embd.weight", ...; empty when the name has no GGUF counterpart.
std::string gguf_tensor_name(const std::string& hf_name);
// The inverse; empty when unknown.
std::string hf_tensor_name(const std::string& gguf_name);

// llama.cpp's architecture name: "llama", "qwen2", "qwen3".
std::string gguf_arch_name(Arch a);

// general.architecture and the <arch>.* keys convert_hf_to_gguf.py writes for `c`, plus, for
// rope_scaling of type llama3, loaq.rope.llama3.* keys (llama.cpp reads the rope_freqs tensor;
// these let `loaq eval` rebuild the same scaling).
std::vector<std::pair<std::string, GgufValue>> gguf_arch_metadata(const ModelConfig& c);
// Llama 3's rope_freqs.weight [head_dim / 2]: the factor each frequency is divided by.
std::vector<float> llama3_rope_factors(const ModelConfig& c);

// Hugging Face's rotate-half q/k rows to llama.cpp's interleaved order (convert's
// LlamaModel.permute), for a [heads · head_dim, ...] tensor (a weight or a bias); `inverse` undoes
// it.
Tensor permute_qk_rows(const Tensor& w, int64_t heads, bool inverse);
// The head count that permute_qk_rows takes for the rows of the Hugging Face tensor or module
// `hf_name` ("model.layers.0.self_attn.q_proj[.weight|.bias]"): the query or key-value heads of a
// llama model's q_proj / k_proj, 0 (not permuted) for every other tensor and architecture. The
// output rows of anything computed with such a weight (a LoRA adapter's lora_b) move with them.
int64_t gguf_qk_permute_heads(const ModelConfig& c, const std::string& hf_name);

// The config.json (Hugging Face keys) a GGUF file's metadata describes; `file` names it in
// errors. Vocabulary size from token_embd.weight.
nlohmann::json config_json_from_gguf(const GgufHeader& h, const std::string& file);

}  // namespace loaq
