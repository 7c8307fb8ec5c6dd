#include "export/gguf_names.h"

#include <cmath>

#include "core/error.h"
#include "quant/gguf_mixture.h"

namespace loaq {

namespace {

// Per-layer module paths (after "model.layers.N.") and their GGUF names (after "blk.N.").
constexpr std::pair<const char*, const char*> kLayerNames[] = {
    {"input_layernorm", "attn_norm"},    {"post_attention_layernorm", "ffn_norm"},
    {"self_attn.q_proj", "attn_q"},      {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},      {"self_attn.o_proj", "attn_output"},
    {"self_attn.q_norm", "attn_q_norm"}, {"self_attn.k_norm", "attn_k_norm"},
    {"mlp.gate_proj", "ffn_gate"},       {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};
constexpr std::pair<const char*, const char*> kGlobalNames[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

}  // namespace

std::string gguf_tensor_name(const std::string& hf) {
  for (const auto& [h, g] : kGlobalNames)
    if (hf == h) return g;
  int64_t layer = 0;
  std::string middle, suffix;
  if (!split_layer_tensor_name(hf, "model.layers.", layer, middle, suffix) ||
      (suffix != "weight" && suffix != "bias"))
    return "";
  for (const auto& [h, g] : kLayerNames)
    if (middle == h) return "blk." + std::to_string(layer) + "." + g + "." + suffix;
  return "";
}

std::string hf_tensor_name(const std::string& gg) {
  for (const auto& [h, g] : kGlobalNames)
    if (gg == g) return h;
  int64_t layer = 0;
  std::string middle, suffix;
  if (!split_layer_tensor_name(gg, "blk.", layer, middle, suffix) ||
      (suffix != "weight" && suffix != "bias"))
    return "";
  for (const auto& [h, g] : kLayerNames)
    if (middle == g) return "model.layers." + std::to_string(layer) + "." + h + "." + suffix;
  return "";
}

std::string gguf_arch_name(Arch a) {
  switch (a) {
    case Arch::kLlama:
      return "llama";
    case Arch::kQwen2:
      return "qwen2";
    case Arch::kQwen3:
      return "qwen3";
  }
  return "?";
}

std::vector<std::pair<std::string, GgufValue>> gguf_arch_metadata(const ModelConfig& c) {
  const std::string a = gguf_arch_name(c.arch);
  std::vector<std::pair<std::string, GgufValue>> kv = {
      {"general.architecture", GgufValue::str(a)},
      {"general.type", GgufValue::str("model")},
      {a + ".block_count", GgufValue::u32(uint32_t(c.num_layers))},
      {a + ".context_length", GgufValue::u32(uint32_t(c.max_position_embeddings))},
      {a + ".embedding_length", GgufValue::u32(uint32_t(c.hidden_size))},
      {a + ".feed_forward_length", GgufValue::u32(uint32_t(c.intermediate_size))},
      {a + ".attention.head_count", GgufValue::u32(uint32_t(c.num_heads))},
      {a + ".attention.head_count_kv", GgufValue::u32(uint32_t(c.num_kv_heads))},
      {a + ".rope.freq_base", GgufValue::f32(float(c.rope_theta))},
      {a + ".attention.layer_norm_rms_epsilon", GgufValue::f32(float(c.rms_norm_eps))},
      {a + ".attention.key_length", GgufValue::u32(uint32_t(c.head_dim))},
      {a + ".attention.value_length", GgufValue::u32(uint32_t(c.head_dim))},
  };
  if (c.arch == Arch::kLlama) {
    kv.push_back({a + ".vocab_size", GgufValue::u32(uint32_t(c.vocab_size))});
    kv.push_back({a + ".rope.dimension_count", GgufValue::u32(uint32_t(c.head_dim))});
  }
  if (c.rope_scaling) {
    const auto& r = *c.rope_scaling;
    kv.push_back({"loaq.rope.llama3.factor", GgufValue::f32(float(r.factor))});
    kv.push_back({"loaq.rope.llama3.low_freq_factor", GgufValue::f32(float(r.low_freq_factor))});
    kv.push_back({"loaq.rope.llama3.high_freq_factor", GgufValue::f32(float(r.high_freq_factor))});
    kv.push_back({"loaq.rope.llama3.original_context_length",
                  GgufValue::u32(uint32_t(r.original_max_position_embeddings))});
  }
  return kv;
}

std::vector<float> llama3_rope_factors(const ModelConfig& c) {
  if (!c.rope_scaling) fail("llama3_rope_factors: the model has no llama3 rope scaling");
  const auto& r = *c.rope_scaling;
  const int64_t dim = c.head_dim;
  const double old_ctx = double(r.original_max_position_embeddings);
  const double low_wavelen = old_ctx / r.low_freq_factor;
  const double high_wavelen = old_ctx / r.high_freq_factor;
  std::vector<float> out;
  for (int64_t i = 0; i < dim; i += 2) {
    // torch: 1 / base ** (arange(0, dim, 2, float32) / dim), in float32.
    const float e = float(i) / float(dim);
    const float freq = 1.0f / std::pow(float(c.rope_theta), e);
    const double wavelen = 2 * M_PI / double(freq);
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(float(r.factor));
    } else {
      const double smooth =
          (old_ctx / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
      out.push_back(float(1 / ((1 - smooth) / r.factor + smooth)));
    }
  }
  return out;
}

Tensor permute_qk_rows(const Tensor& w, int64_t heads, bool inverse) {
  const int64_t rows = w.dim(0);
  if (heads <= 0 || rows % (2 * heads) != 0)
    fail("q/k permutation: {} rows are not {} heads of an even size", rows, heads);
  const int64_t cols = int64_t(w.data.size()) / rows;
  const int64_t half = rows / heads / 2;
  Tensor out(w.shape);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t t = 0; t < 2; ++t)
      for (int64_t j = 0; j < half; ++j) {
        // HF row h·2·half + t·half + j is llama.cpp's row h·2·half + 2j + t.
        const int64_t hf = h * 2 * half + t * half + j, gg = h * 2 * half + 2 * j + t;
        const int64_t src = inverse ? gg : hf, dst = inverse ? hf : gg;
        std::copy_n(w.data.begin() + src * cols, cols, out.data.begin() + dst * cols);
      }
  return out;
}

int64_t gguf_qk_permute_heads(const ModelConfig& c, const std::string& hf_name) {
  if (c.arch != Arch::kLlama) return 0;
  if (hf_name.find("self_attn.q_proj") != std::string::npos) return c.num_heads;
  if (hf_name.find("self_attn.k_proj") != std::string::npos) return c.num_kv_heads;
  return 0;
}

nlohmann::json config_json_from_gguf(const GgufHeader& h, const std::string& file) {
  const std::string a = h.get_str("general.architecture", file);
  nlohmann::json j;
  if (a == "llama") {
    j["architectures"] = {"LlamaForCausalLM"};
  } else if (a == "qwen2") {
    j["architectures"] = {"Qwen2ForCausalLM"};
  } else if (a == "qwen3") {
    j["architectures"] = {"Qwen3ForCausalLM"};
  } else {
    fail("{}: architecture '{}' is not supported (llama, qwen2, qwen3)", file, a);
  }
  j["model_type"] = a;
  j["num_hidden_layers"] = h.get_int(a + ".block_count", file);
  j["hidden_size"] = h.get_int(a + ".embedding_length", file);
  j["intermediate_size"] = h.get_int(a + ".feed_forward_length", file);
  j["num_attention_heads"] = h.get_int(a + ".attention.head_count", file);
  j["num_key_value_heads"] = h.find(a + ".attention.head_count_kv")
                                 ? h.get_int(a + ".attention.head_count_kv", file)
                                 : h.get_int(a + ".attention.head_count", file);
  if (h.find(a + ".attention.key_length"))
    j["head_dim"] = h.get_int(a + ".attention.key_length", file);
  j["max_position_embeddings"] =
      h.find(a + ".context_length") ? h.get_int(a + ".context_length", file) : 2048;
  j["rms_norm_eps"] = h.get_float(a + ".attention.layer_norm_rms_epsilon", file);
  j["rope_theta"] =
      h.find(a + ".rope.freq_base") ? h.get_float(a + ".rope.freq_base", file) : 10000.0;
  j["hidden_act"] = "silu";
  const auto* emb = h.tensor("token_embd.weight");
  if (!emb || emb->ne.size() != 2) fail("{}: no 2-D tensor token_embd.weight", file);
  j["vocab_size"] = emb->ne[1];
  j["tie_word_embeddings"] = h.tensor("output.weight") == nullptr;
  const bool bias = h.tensor("blk.0.attn_q.bias") != nullptr;
  if (a != "qwen2") j["attention_bias"] = bias;
  if (h.tensor("rope_freqs.weight")) {
    if (!h.find("loaq.rope.llama3.factor"))
      fail(
          "{}: rope_freqs.weight without loaq.rope.llama3.* keys: the rope scaling cannot be "
          "rebuilt (only GGUF files that loaq wrote are supported here)",
          file);
    j["rope_scaling"] = {
        {"rope_type", "llama3"},
        {"factor", h.get_float("loaq.rope.llama3.factor", file)},
        {"low_freq_factor", h.get_float("loaq.rope.llama3.low_freq_factor", file)},
        {"high_freq_factor", h.get_float("loaq.rope.llama3.high_freq_factor", file)},
        {"original_max_position_embeddings",
         h.get_int("loaq.rope.llama3.original_context_length", file)}};
  }
  if (h.find("tokenizer.ggml.bos_token_id"))
    j["bos_token_id"] = h.get_int("tokenizer.ggml.bos_token_id", file);
  if (h.find("tokenizer.ggml.eos_token_id"))
    j["eos_token_id"] = h.get_int("tokenizer.ggml.eos_token_id", file);
  return j;
}

}  // namespace loaq
