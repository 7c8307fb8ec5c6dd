#pragma once
// A Hugging Face config.json of a supported decoder-only architecture, as one plain struct.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace loaq {

enum class Arch { kLlama, kQwen2, kQwen3 };

// rope_scaling of type "llama3" (Llama 3.1+): frequency-dependent scaling of inv_freq.
struct Llama3RopeScaling {
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

// loaq's own section "loaq" of config.json, written by `loaq quantize --rotate` (QuaRot-style
// re-parametrization): {"rotation": "hadamard", "rotate_seed": S, "online_down_rotation": true,
// "online_o_rotation": true}.
struct LoaqSection {
  std::string rotation;  // "" (not rotated) or "hadamard": norms folded, residual stream rotated
  uint64_t rotate_seed = 0;  // also seeds the random orthogonal fallback of the online rotation
  bool online_down =
      false;              // down_proj's input is rotated at run time (hadamard_transform(I, seed))
  bool online_o = false;  // o_proj's input is rotated across heads at run time
                          // (hadamard_transform(heads, seed))
  int act_bits = 16;  // per-token activation quantization of every linear's input (W4A4); 16: none
  double act_clip = 1.0;  // its clip ratio
  // "lowrank_branches": the linears' low-rank branches are in quant_state.safetensors (issue 14,
  // io/lowrank_state.h) and run beside the main weights (model.safetensors holds the main layers).
  bool lowrank = false;
  // "weights_in_quant_state": the weight of a quantized linear is not in model.safetensors when its
  // integer state in quant_state.safetensors reproduces it; loaders dequantize it at load
  // (io/quant_state.h, io/checkpoint.h).
  bool weights_in_state = false;
  bool norms_folded() const { return !rotation.empty(); }
};

struct ModelConfig {
  Arch arch = Arch::kLlama;
  std::string architecture;  // "LlamaForCausalLM", ...
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::optional<Llama3RopeScaling> rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2 always; Llama/Qwen3 when attention_bias
  bool o_bias = false;    // Llama/Qwen3 when attention_bias
  bool mlp_bias = false;  // Llama when mlp_bias
  bool qk_norm = false;   // Qwen3: RMSNorm per head on q and k before RoPE
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype;
  LoaqSection loaq;

  int64_t q_dim() const { return num_heads * head_dim; }
  int64_t kv_dim() const { return num_kv_heads * head_dim; }
};

// Reads config.json content. `path` names the file in errors. Throws loaq::Error for another
// architecture, an unsupported rope type or activation, or a missing/inconsistent field.
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& path);
// Reads `<dir>/config.json` (or the file itself when `path` is a file).
ModelConfig load_model_config(const std::string& path);

std::string arch_name(Arch a);

// The "loaq" section of config.json for `c` (null when the model is not rotated).
nlohmann::json loaq_section_json(const ModelConfig& c);

}  // namespace loaq
