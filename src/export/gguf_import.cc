#include "export/gguf_import.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "export/gguf_names.h"
#include "io/gguf.h"
#include "quant/gguf_block.h"

namespace loaq {

bool is_gguf_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream f(path, std::ios::binary);
  char m[4] = {};
  f.read(m, 4);
  return f && std::memcmp(m, "GGUF", 4) == 0;
}

Model load_gguf_model(const std::string& path) {
  const GgufFile g(path);
  const auto& h = g.header();
  if (const auto* t = h.find("general.type");
      t && t->type == GgufValueType::STRING && !t->is_array && t->strings[0] == "adapter")
    fail(
        "{}: a LoRA adapter (general.type \"adapter\"), not a model: llama.cpp runs it on its "
        "base with --lora; loaq evaluates the quantize output directory it came from",
        path);
  Model m;
  m.config = parse_model_config(config_json_from_gguf(h, path), path);
  const ModelConfig& c = m.config;
  std::set<std::string> used = {"rope_freqs.weight"};
  auto load = [&](const std::string& gg, const std::vector<int64_t>& shape) {
    const auto* t = h.tensor(gg);
    if (!t) fail("{}: tensor '{}' is missing", path, gg);
    used.insert(gg);
    const std::vector<int64_t> ne(shape.rbegin(), shape.rend());
    if (t->ne != ne)
      fail("{}: tensor '{}' has shape [{}], the metadata needs [{}] (ggml order)", path, gg,
           fmt::join(t->ne, ", "), fmt::join(ne, ", "));
    if (!gguf_codec_supported(t->type))
      fail("{}: tensor '{}' is {}, which loaq cannot dequantize", path, gg,
           ggml_type_info(t->type).name);
    Tensor out(shape);
    gguf_dequantize(t->type, g.data(*t), out.data.data(), int64_t(out.data.size()));
    for (float v : out.data)
      if (!std::isfinite(v)) fail("{}: tensor '{}' holds a non-finite value", path, gg);
    return out;
  };
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  m.weights.embed = load("token_embd.weight", {c.vocab_size, H});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("blk.{}.", i);
    LayerWeights w;
    w.input_norm = load(p + "attn_norm.weight", {H});
    w.post_attn_norm = load(p + "ffn_norm.weight", {H});
    auto lin = [&](const char* n, int64_t out, int64_t in, bool bias, int64_t heads) {
      Linear l;
      l.w = load(p + n + ".weight", {out, in});
      if (bias) l.b = load(p + n + ".bias", {out});
      if (heads) {
        l.w = permute_qk_rows(l.w, heads, true);
        if (bias) l.b = permute_qk_rows(l.b, heads, true);
      }
      return l;
    };
    const bool llama = c.arch == Arch::kLlama;
    w.q = lin("attn_q", c.q_dim(), H, c.qkv_bias, llama ? c.num_heads : 0);
    w.k = lin("attn_k", c.kv_dim(), H, c.qkv_bias, llama ? c.num_kv_heads : 0);
    w.v = lin("attn_v", c.kv_dim(), H, c.qkv_bias, 0);
    w.o = lin("attn_output", H, c.q_dim(), c.o_bias, 0);
    w.gate = lin("ffn_gate", I, H, c.mlp_bias, 0);
    w.up = lin("ffn_up", I, H, c.mlp_bias, 0);
    w.down = lin("ffn_down", H, I, c.mlp_bias, 0);
    if (c.qk_norm) {
      w.q_norm = load(p + "attn_q_norm.weight", {c.head_dim});
      w.k_norm = load(p + "attn_k_norm.weight", {c.head_dim});
    }
    m.weights.layers.push_back(std::move(w));
  }
  m.weights.final_norm = load("output_norm.weight", {H});
  if (!c.tie_word_embeddings) m.weights.lm_head = load("output.weight", {c.vocab_size, H});
  for (const auto& t : h.tensors)
    if (!used.count(t.name))
      fail("{}: tensor '{}' is not one loaq's {} model uses", path, t.name, arch_name(c.arch));
  return m;
}

}  // namespace loaq
