// GGUF export (export.h): a Hugging Face directory to one GGUF file that llama.cpp runs.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "export/export.h"
#include "export/gguf_names.h"
#include "export/gguf_vocab.h"
#include "io/checkpoint.h"
#include "io/gguf.h"
#include "quant/gguf_block.h"

namespace loaq {

namespace {

namespace fs = std::filesystem;

// llama.cpp's general.file_type (llama_ftype) of a file whose weights are all `t`.
uint32_t file_type_of(GgmlType t) {
  switch (t) {
    case GgmlType::F32:
      return 0;
    case GgmlType::F16:
      return 1;
    case GgmlType::Q4_0:
      return 2;
    case GgmlType::Q4_1:
      return 3;
    case GgmlType::Q8_0:
      return 7;
    case GgmlType::Q5_0:
      return 8;
    case GgmlType::Q5_1:
      return 9;
    case GgmlType::Q2_K:
      return 10;
    case GgmlType::Q3_K:
      return 11;  // Q3_K_S: every weight Q3_K
    case GgmlType::Q4_K:
      return 14;  // Q4_K_S
    case GgmlType::Q5_K:
      return 16;  // Q5_K_S
    case GgmlType::Q6_K:
      return 18;
    case GgmlType::BF16:
      return 32;
    default:
      fail("no llama.cpp file type for ggml type {}", ggml_type_info(t).name);
  }
}

// The type a weight matrix with rows of `ncols` gets (llama-quantize's fallback rule).
GgmlType weight_type(GgmlType want, int64_t ncols) {
  const auto& info = ggml_type_info(want);
  if (ncols % info.block == 0) return want;
  const auto* f = gguf_block_format(want);
  const GgmlType fb = f ? f->fallback : GgmlType::F16;
  return ncols % ggml_type_info(fb).block == 0 ? fb : GgmlType::F16;
}

void check_out(const std::string& out, const std::string& in, bool force) {
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (fs::is_directory(out)) fail("--out {}: is a directory; a GGUF export is one file", out);
    if (!force) fail("--out {}: exists (add --force to replace it)", out);
    std::ifstream f(out, std::ios::binary);
    char magic[4] = {};
    f.read(magic, 4);
    if (!f || std::memcmp(magic, "GGUF", 4) != 0)
      fail("--out {}: exists and is not a GGUF file; --force replaces only a GGUF", out);
  }
  const auto out_abs = fs::weakly_canonical(fs::absolute(out), ec);
  const auto in_abs = fs::weakly_canonical(fs::absolute(in), ec);
  const auto rel = out_abs.lexically_relative(in_abs);
  if (!rel.empty() && *rel.begin() != "..")
    fail("--out {}: inside the input directory {}; write the GGUF elsewhere", out, in);
}

}  // namespace

ExportSummary export_gguf(const std::string& model_dir, const std::string& out,
                          const ExportOptions& opt) {
  const auto* want_info = ggml_type_by_name(opt.gguf_type);
  if (!want_info || !gguf_codec_supported(want_info->type)) {
    std::string names = "F32, F16, BF16";
    for (auto t : gguf_block_types()) names += std::string(", ") + ggml_type_info(t).name;
    fail("--type {}: expected one of {}", opt.gguf_type, names);
  }
  const GgmlType want = want_info->type;
  check_out(out, model_dir, opt.force);
  const Checkpoint ckpt(model_dir);
  const ModelConfig& c = ckpt.config();
  if (c.loaq.online_down || c.loaq.online_o || c.loaq.act_bits < 16)
    fail(
        "{}: online rotations and activation quantization cannot be expressed in GGUF (llama.cpp "
        "would run a different model)",
        model_dir);

  auto kv = gguf_arch_metadata(c);
  kv.push_back({"general.name", GgufValue::str(fs::path(model_dir).filename().string())});
  kv.push_back({"general.file_type", GgufValue::u32(file_type_of(want))});
  if (gguf_block_format(want)) kv.push_back({"general.quantization_version", GgufValue::u32(2)});
  for (auto& e : gguf_tokenizer_metadata(model_dir, c)) kv.push_back(std::move(e));

  // The tensors: every checkpoint tensor has a GGUF name, or the export refuses it.
  struct Item {
    std::string hf;  // empty for generated tensors (rope_freqs)
    GgufTensorSpec spec;
    int64_t permute_heads = 0;
  };
  std::vector<Item> items;
  ExportSummary sum;
  if (c.rope_scaling)
    items.push_back({"", {"rope_freqs.weight", {c.head_dim / 2}, GgmlType::F32}, 0});
  auto add = [&](const std::string& hf) {
    const std::string gg = gguf_tensor_name(hf);
    if (gg.empty()) fail("{}: tensor '{}' has no GGUF name", model_dir, hf);
    const auto& info = ckpt.info(hf);
    std::vector<int64_t> ne(info.shape.rbegin(), info.shape.rend());
    GgmlType t = GgmlType::F32;
    if (ne.size() == 2) {
      t = weight_type(want, ne[0]);
      if (t != want)
        sum.notes.push_back(fmt::format("{}: rows of {} are not whole {} blocks: {} instead", gg,
                                        ne[0], want_info->name, ggml_type_info(t).name));
    }
    int64_t heads = 0;
    if (c.arch == Arch::kLlama && hf.find("self_attn.q_proj.") != std::string::npos)
      heads = c.num_heads;
    if (c.arch == Arch::kLlama && hf.find("self_attn.k_proj.") != std::string::npos)
      heads = c.num_kv_heads;
    items.push_back({hf, {gg, ne, t}, heads});
  };
  add("model.embed_tokens.weight");
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    for (const char* n :
         {"input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.q_proj.bias",
          "self_attn.k_proj.weight", "self_attn.k_proj.bias", "self_attn.v_proj.weight",
          "self_attn.v_proj.bias", "self_attn.o_proj.weight", "self_attn.o_proj.bias",
          "self_attn.q_norm.weight", "self_attn.k_norm.weight", "post_attention_layernorm.weight",
          "mlp.gate_proj.weight", "mlp.gate_proj.bias", "mlp.up_proj.weight", "mlp.up_proj.bias",
          "mlp.down_proj.weight", "mlp.down_proj.bias"})
      if (ckpt.has(p + n)) add(p + n);
  }
  add("model.norm.weight");
  if (!c.tie_word_embeddings) add("lm_head.weight");
  // Anything else in the checkpoint would be silently lost.
  for (const auto& n : ckpt.tensor_names()) {
    bool used = false;
    for (const auto& it : items) used |= it.hf == n;
    if (!used)
      fail("{}: tensor '{}' is not part of a {} model's GGUF", model_dir, n, arch_name(c.arch));
  }

  std::vector<GgufTensorSpec> specs;
  for (const auto& it : items) specs.push_back(it.spec);
  write_gguf(out, kv, specs, [&](size_t i) {
    const Item& it = items[i];
    if (it.hf.empty()) {
      const auto f = llama3_rope_factors(c);
      return gguf_quantize_ref(GgmlType::F32, f.data(), int64_t(f.size()));
    }
    Tensor w = ckpt.load_f32(it.hf);
    ckpt.release(it.hf);
    if (it.permute_heads) w = permute_qk_rows(w, it.permute_heads, false);
    return gguf_quantize_ref(it.spec.type, w.data.data(), int64_t(w.data.size()));
  });
  sum.out = out;
  sum.dtype = want_info->name;
  sum.files = {fs::path(out).filename().string()};
  return sum;
}

}  // namespace loaq
