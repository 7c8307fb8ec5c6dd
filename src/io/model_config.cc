#include "io/model_config.h"

#include <filesystem>

#include "io/json_file.h"

namespace loaq {

std::string arch_name(Arch a) {
  switch (a) {
    case Arch::kLlama:
      return "LlamaForCausalLM";
    case Arch::kQwen2:
      return "Qwen2ForCausalLM";
    case Arch::kQwen3:
      return "Qwen3ForCausalLM";
  }
  return "?";
}

ModelConfig parse_model_config(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) fail("{}: not a JSON object", path);
  ModelConfig c;
  const auto archs = json_get_or<std::vector<std::string>>(j, "architectures", path, {});
  if (archs.size() != 1)
    fail("{}: field 'architectures' must list exactly one architecture (found {})", path,
         j.contains("architectures") ? j["architectures"].dump() : "none");
  c.architecture = archs[0];
  if (c.architecture == "LlamaForCausalLM") {
    c.arch = Arch::kLlama;
  } else if (c.architecture == "Qwen2ForCausalLM") {
    c.arch = Arch::kQwen2;
  } else if (c.architecture == "Qwen3ForCausalLM") {
    c.arch = Arch::kQwen3;
  } else {
    fail(
        "{}: field 'architectures': unsupported architecture '{}' (supported: LlamaForCausalLM, "
        "Qwen2ForCausalLM, Qwen3ForCausalLM)",
        path, c.architecture);
  }

  // Sizes are integers in 1..max: the maxima lie far above any real model and keep every product
  // of two sizes (a tensor's element count) within int64_t.
  auto positive = [&](const char* key, int64_t max = int64_t(1) << 24) {
    const auto v = json_get<int64_t>(j, key, path);
    if (v <= 0 || v > max)
      fail("{}: field '{}' must be positive and at most {} (found {})", path, key, max, v);
    return v;
  };
  c.hidden_size = positive("hidden_size");
  c.intermediate_size = positive("intermediate_size");
  c.num_layers = positive("num_hidden_layers", 1 << 16);
  c.num_heads = positive("num_attention_heads", 1 << 16);
  c.num_kv_heads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                       ? positive("num_key_value_heads", 1 << 16)
                       : c.num_heads;
  c.vocab_size = positive("vocab_size", INT32_MAX);  // token ids are int32
  c.max_position_embeddings =
      j.contains("max_position_embeddings") && !j["max_position_embeddings"].is_null()
          ? positive("max_position_embeddings", int64_t(1) << 40)
          : 2048;
  c.rms_norm_eps = json_get_or<double>(j, "rms_norm_eps", path, 1e-6);
  c.rope_theta = json_get_or<double>(j, "rope_theta", path, 10000.0);
  // RMSNorm divides by sqrt(mean(x²) + eps) and RoPE takes powers of theta: an eps ≤ 0 or a theta
  // ≤ 0 gives NaN or infinite activations (a NaN perplexity).
  if (!(c.rms_norm_eps > 0))
    fail("{}: field 'rms_norm_eps' must be positive (found {})", path, c.rms_norm_eps);
  if (!(c.rope_theta > 0))
    fail("{}: field 'rope_theta' must be positive (found {})", path, c.rope_theta);
  c.torch_dtype = json_get_or<std::string>(j, "torch_dtype", path, "float32");
  if (c.num_heads % c.num_kv_heads != 0)
    fail("{}: field 'num_key_value_heads' ({}) must divide 'num_attention_heads' ({})", path,
         c.num_kv_heads, c.num_heads);

  // head_dim: explicit when given; Qwen3's config class defaults it to 128, the others derive it.
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    c.head_dim = positive("head_dim", 1 << 16);
  } else if (c.arch == Arch::kQwen3) {
    c.head_dim = 128;
  } else {
    if (c.hidden_size % c.num_heads != 0)
      fail("{}: field 'hidden_size' ({}) is not a multiple of 'num_attention_heads' ({})", path,
           c.hidden_size, c.num_heads);
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0)
    fail("{}: field 'head_dim' ({}) must be even for RoPE", path, c.head_dim);

  const auto act = json_get_or<std::string>(j, "hidden_act", path, "silu");
  if (act != "silu")
    fail("{}: field 'hidden_act': unsupported activation '{}' (only silu)", path, act);

  const bool attention_bias = json_get_or<bool>(j, "attention_bias", path, false);
  switch (c.arch) {
    case Arch::kLlama:
      c.qkv_bias = c.o_bias = attention_bias;
      c.mlp_bias = json_get_or<bool>(j, "mlp_bias", path, false);
      break;
    case Arch::kQwen2:
      c.qkv_bias = true;
      break;
    case Arch::kQwen3:
      c.qkv_bias = c.o_bias = attention_bias;
      c.qk_norm = true;
      break;
  }
  if (c.arch != Arch::kLlama && json_get_or<bool>(j, "use_sliding_window", path, false))
    fail("{}: field 'use_sliding_window': sliding-window attention is not supported", path);
  c.tie_word_embeddings = json_get_or<bool>(j, "tie_word_embeddings", path, false);

  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const auto& rs = j["rope_scaling"];
    if (!rs.is_object()) fail("{}: field 'rope_scaling' is not an object", path);
    const std::string rp = path + " rope_scaling";
    std::string type = json_get_or<std::string>(rs, "rope_type", rp, "");
    if (type.empty()) type = json_get_or<std::string>(rs, "type", rp, "");
    if (type == "llama3") {
      Llama3RopeScaling s;
      s.factor = json_get<double>(rs, "factor", rp);
      s.low_freq_factor = json_get<double>(rs, "low_freq_factor", rp);
      s.high_freq_factor = json_get<double>(rs, "high_freq_factor", rp);
      s.original_max_position_embeddings =
          json_get<int64_t>(rs, "original_max_position_embeddings", rp);
      if (s.factor <= 0 || s.low_freq_factor <= 0 || s.high_freq_factor <= s.low_freq_factor ||
          s.original_max_position_embeddings <= 0)
        fail("{}: field 'rope_scaling' has inconsistent llama3 parameters", path);
      c.rope_scaling = s;
    } else if (type != "default") {
      fail("{}: field 'rope_scaling': unsupported rope type '{}' (supported: default, llama3)",
           path, type);
    }
  }

  if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer())
    c.bos_token_id = j["bos_token_id"].get<int64_t>();
  if (j.contains("eos_token_id")) {
    const auto& e = j["eos_token_id"];
    if (e.is_number_integer()) c.eos_token_ids = {e.get<int64_t>()};
    if (e.is_array())
      for (const auto& x : e)
        if (x.is_number_integer()) c.eos_token_ids.push_back(x.get<int64_t>());
  }
  if (j.contains("loaq") && !j["loaq"].is_null()) {
    const auto& l = j["loaq"];
    if (!l.is_object()) fail("{}: field 'loaq' is not an object", path);
    const std::string lp = path + " loaq";
    c.loaq.rotation = json_get_or<std::string>(l, "rotation", lp, "");
    if (!c.loaq.rotation.empty() && c.loaq.rotation != "hadamard")
      fail("{}: field 'loaq.rotation': unknown rotation '{}' (known: hadamard)", path,
           c.loaq.rotation);
    c.loaq.rotate_seed = json_get_or<uint64_t>(l, "rotate_seed", lp, 0);
    c.loaq.online_down = json_get_or<bool>(l, "online_down_rotation", lp, false);
    c.loaq.online_o = json_get_or<bool>(l, "online_o_rotation", lp, false);
    c.loaq.act_bits = json_get_or<int>(l, "act_bits", lp, 16);
    c.loaq.act_clip = json_get_or<double>(l, "act_clip", lp, 1.0);
    c.loaq.lowrank = json_get_or<bool>(l, "lowrank_branches", lp, false);
    c.loaq.weights_in_state = json_get_or<bool>(l, "weights_in_quant_state", lp, false);
    if (c.loaq.act_bits < 2 || c.loaq.act_bits > 16 ||
        !(c.loaq.act_clip > 0 && c.loaq.act_clip <= 1))
      fail("{}: field 'loaq': act_bits {} / act_clip {} out of range", path, c.loaq.act_bits,
           c.loaq.act_clip);
  }
  return c;
}

nlohmann::json loaq_section_json(const ModelConfig& c) {
  if (!c.loaq.norms_folded() && !c.loaq.online_down && !c.loaq.online_o && c.loaq.act_bits == 16 &&
      !c.loaq.lowrank && !c.loaq.weights_in_state)
    return nullptr;
  nlohmann::json j = {{"rotation", c.loaq.rotation},
                      {"rotate_seed", c.loaq.rotate_seed},
                      {"online_down_rotation", c.loaq.online_down},
                      {"online_o_rotation", c.loaq.online_o}};
  if (c.loaq.act_bits != 16) {
    j["act_bits"] = c.loaq.act_bits;
    j["act_clip"] = c.loaq.act_clip;
  }
  if (c.loaq.lowrank) j["lowrank_branches"] = true;
  if (c.loaq.weights_in_state) j["weights_in_quant_state"] = true;
  return j;
}

ModelConfig load_model_config(const std::string& path) {
  namespace fs = std::filesystem;
  const std::string file =
      fs::is_directory(path) ? (fs::path(path) / "config.json").string() : path;
  if (!fs::exists(file)) fail("{}: no config.json (not a Hugging Face model directory?)", path);
  return parse_model_config(read_json_file(file), file);
}

}  // namespace loaq
