#include "ckpt_presets.h"

#include "core/error.h"

namespace loaq::bench {

namespace {

using J = nlohmann::ordered_json;

// meta-llama/Meta-Llama-3-8B config.json (no rope_scaling: that came with Llama 3.1).
J llama_3_8b() {
  return J::parse(R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 8192,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.40.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
})");
}

// meta-llama/Llama-3.2-1B config.json: llama3 rope scaling, explicit head_dim, tied head.
J llama_3_2_1b() {
  return J::parse(R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
})");
}

// Qwen/Qwen3-8B config.json: q/k RMSNorm per head, head_dim 128, untied head.
J qwen3_8b() {
  return J::parse(R"({
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 12288,
  "max_position_embeddings": 40960,
  "max_window_layers": 36,
  "model_type": "qwen3",
  "num_attention_heads": 32,
  "num_hidden_layers": 36,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})");
}

}  // namespace

const std::vector<CkptPreset>& ckpt_presets() {
  static const std::vector<CkptPreset> presets = {
      {"llama-3-8b", "meta-llama/Meta-Llama-3-8B", "llama3", llama_3_8b()},
      {"qwen3-8b", "Qwen/Qwen3-8B", "qwen3", qwen3_8b()},
      {"llama-3.2-1b", "meta-llama/Llama-3.2-1B", "llama3", llama_3_2_1b()},
  };
  return presets;
}

const CkptPreset& find_ckpt_preset(const std::string& name) {
  std::string known;
  for (const auto& p : ckpt_presets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  fail("--preset: unknown model '{}' (known: {})", name, known);
}

}  // namespace loaq::bench
