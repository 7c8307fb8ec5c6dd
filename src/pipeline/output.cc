#include "pipeline/output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <bit>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/staged_dir.h"

namespace loaq {

namespace fs = std::filesystem;

void write_model_safetensors(const Model& m, const std::string& path,
                             const std::map<std::string, std::string>& metadata) {
  std::vector<TensorToWrite> t;
  t.push_back(f32_entry("model.embed_tokens.weight", m.weights.embed));
  t.push_back(f32_entry("model.norm.weight", m.weights.final_norm));
  if (!m.weights.lm_head.empty()) t.push_back(f32_entry("lm_head.weight", m.weights.lm_head));
  for (size_t l = 0; l < m.weights.layers.size(); ++l) {
    const auto& w = m.weights.layers[l];
    const std::string p = fmt::format("model.layers.{}.", l);
    t.push_back(f32_entry(p + "input_layernorm.weight", w.input_norm));
    t.push_back(f32_entry(p + "post_attention_layernorm.weight", w.post_attn_norm));
    if (!w.q_norm.empty()) t.push_back(f32_entry(p + "self_attn.q_norm.weight", w.q_norm));
    if (!w.k_norm.empty()) t.push_back(f32_entry(p + "self_attn.k_norm.weight", w.k_norm));
    for (LinearName n : kAllLinears) {
      const Linear& lin = w.linear(n);
      const std::string base = p + std::string(linear_path(n));
      t.push_back(f32_entry(base + ".weight", lin.w));
      if (!lin.b.empty()) t.push_back(f32_entry(base + ".bias", lin.b));
    }
  }
  write_safetensors(path, std::move(t), metadata);
}

void write_quant_state(const std::map<std::string, QuantizedLinear>& linears,
                       const GridConfig& grid, const std::string& path,
                       const std::map<std::string, std::string>& metadata) {
  const bool is_signed = grid.qmin() < 0;
  std::vector<std::vector<uint8_t>> code_bytes;
  code_bytes.reserve(linears.size());
  std::vector<TensorToWrite> t;
  for (const auto& [name, q] : linears) {
    auto& b = code_bytes.emplace_back(q.codes.size());
    for (size_t i = 0; i < q.codes.size(); ++i)
      b[i] = is_signed ? std::bit_cast<uint8_t>(int8_t(q.codes[i])) : uint8_t(q.codes[i]);
    t.push_back({name + ".codes", is_signed ? DType::I8 : DType::U8, q.q.shape,
                 std::as_bytes(std::span(b))});
    t.push_back(f32_entry(name + ".scale", q.scale));
    t.push_back(f32_entry(name + ".zero", q.zero));
    t.push_back({name + ".g_idx",
                 DType::I32,
                 {int64_t(q.g_idx.size())},
                 std::as_bytes(std::span(q.g_idx))});
    t.push_back(
        {name + ".perm", DType::I32, {int64_t(q.perm.size())}, std::as_bytes(std::span(q.perm))});
  }
  write_safetensors(path, std::move(t), metadata);
}

void write_quant_output(const std::string& out_dir, bool force, const std::string& source_dir,
                        const Model& m, const std::map<std::string, QuantizedLinear>& linears,
                        const GridConfig& grid, const nlohmann::ordered_json& report) {
  StagedDir dir(out_dir, force, OutputKind::kQuantize, {source_dir});
  const fs::path& tmp = dir.path();
  std::error_code ec;
  {
    for (const char* f :
         {"config.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json", "generation_config.json"}) {
      const fs::path src = fs::path(source_dir) / f;
      if (fs::exists(src)) {
        fs::copy_file(src, tmp / f, fs::copy_options::overwrite_existing, ec);
        if (ec)
          fail("cannot copy '{}' to '{}': {}", src.string(), (tmp / f).string(), ec.message());
      }
    }
    if (!loaq_section_json(m.config).is_null()) {
      // A rotated model (head untied, norms folded) or one with quantized activations: the "loaq"
      // section tells the loader to apply the online rotations and the activation quantization
      // (and refuses a second rotation).
      const fs::path cfg = tmp / "config.json";
      if (!fs::exists(cfg)) fail("{}: no config.json to record the rotation in", source_dir);
      auto j = read_ordered_json_file(cfg.string());
      j["tie_word_embeddings"] = m.config.tie_word_embeddings;
      j["loaq"] = loaq_section_json(m.config);
      write_file_atomic(cfg.string(), j.dump(2) + "\n");
    }
    const std::map<std::string, std::string> meta = {{"format", "pt"}, {"producer", "loaq"}};
    write_model_safetensors(m, (tmp / "model.safetensors").string(), meta);
    if (!linears.empty()) {
      std::map<std::string, std::string> qmeta = {{"producer", "loaq"},
                                                  {"bits", std::to_string(grid.bits)},
                                                  {"group_size", std::to_string(grid.group)},
                                                  {"sym", grid.sym ? "true" : "false"},
                                                  {"real_zero", grid.zero_in_rounding() ? "true" : "false"},
                                                  {"grid", grid.describe()},
                                                  {"dequantize", "scale * (code - zero)"}};
      write_quant_state(linears, grid, (tmp / "quant_state.safetensors").string(), qmeta);
    }
    write_file_atomic((tmp / "report.json").string(), report.dump(2) + "\n");
    dir.commit();
  }
}

}  // namespace loaq
