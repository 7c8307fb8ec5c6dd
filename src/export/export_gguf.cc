// GGUF export (export.h): a Hugging Face directory to one GGUF file that llama.cpp runs.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>

#include "core/error.h"
#include "export/export.h"
#include "export/gguf_codes.h"
#include "export/gguf_names.h"
#include "export/gguf_output.h"
#include "export/gguf_vocab.h"
#include "export/quant_dir.h"
#include "io/checkpoint.h"
#include "io/gguf.h"
#include "io/imatrix.h"
#include "io/json_file.h"
#include "io/safetensors_set.h"
#include "quant/gguf_block.h"
#include "quant/gguf_mixture.h"

namespace loaq {

namespace {

namespace fs = std::filesystem;

// A solved linear's bytes: its state packed on its block type's grid (the mixture's type, or the
// base type the run's single grid used), checked against the weight the run wrote, rows permuted
// as llama.cpp wants them.
std::vector<std::byte> solved_bytes(const QuantDir& q, const std::string& hf,
                                    const GgufTensorSpec& spec, const Tensor& w, int64_t heads) {
  const LinearState s = q.load_linear(hf.substr(0, hf.size() - 7));
  const std::string run_type = q.report()["settings"]["grid"]["gguf_file_type"];
  const GgmlType base = gguf_file_type(run_type)->base;
  GgmlType t = spec.type;
  if (!state_fits_gguf_type(s, t)) t = base;
  if (t != spec.type)
    fail("{}: {} is not on the {} grid the gguf:{} mixture gives it{}", q.dir(), hf,
         ggml_type_info(spec.type).name, run_type,
         state_fits_gguf_type(s, base) ? " (it is on the base type's: the quantize run did not "
                                         "apply the mixture per linear)"
                                       : "");
  auto bytes = pack_gguf_state(s, t);
  std::vector<float> y(w.data.size());
  gguf_dequantize(t, bytes, y.data(), int64_t(y.size()));
  float max_abs = 0, max_diff = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(w.data[i]));
    max_diff = std::max(max_diff, std::fabs(w.data[i] - y[i]));
  }
  if (max_diff > 1e-5f * max_abs)
    fail("{}: {} packed as {} differs from its weight by {} (max |w| {})", q.dir(), hf,
         ggml_type_info(t).name, max_diff, max_abs);
  if (heads) {  // permute whole rows of blocks
    const size_t row = bytes.size() / size_t(w.rows());
    std::vector<std::byte> p(bytes.size());
    const int64_t half = w.rows() / heads / 2;
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t tt = 0; tt < 2; ++tt)
        for (int64_t j = 0; j < half; ++j)
          std::copy_n(bytes.begin() + (h * 2 * half + tt * half + j) * int64_t(row), row,
                      p.begin() + (h * 2 * half + 2 * j + tt) * int64_t(row));
    bytes = std::move(p);
  }
  return bytes;
}

}  // namespace

ExportSummary export_gguf(const std::string& model_dir, const std::string& out,
                          const ExportOptions& opt) {
  // --type: a float type for every matrix, or one of llama-quantize's file types.
  const std::string type = opt.gguf_type.empty() ? "F16" : opt.gguf_type;
  const GgmlTypeInfo* float_type = gguf_float_type(type);
  const GgufFileType* ft = gguf_file_type(type);
  if (!float_type && !ft) {
    std::string names = "F32, F16, BF16";
    for (const auto& n : gguf_file_type_names()) names += ", " + n;
    fail("--type {}: expected one of {}", type, names);
  }
  if (opt.gguf_pure && !ft) fail("--pure applies to a quantized --type (got {})", type);
  if (!opt.gguf_imatrix.empty() && !ft)
    fail("--imatrix applies to a quantized --type (got {})", type);
  check_gguf_output(out, model_dir, opt.force);
  std::optional<Imatrix> imatrix;
  if (!opt.gguf_imatrix.empty()) imatrix = read_imatrix(opt.gguf_imatrix);
  const Checkpoint ckpt(model_dir);
  // A `loaq quantize --grid gguf:TYPE` output: its linears are written from the solver's codes.
  std::unique_ptr<QuantDir> solved;
  std::set<std::string> solved_linears;
  if (SafetensorsSet::present(model_dir, "quant_state") &&
      fs::exists(fs::path(model_dir) / "report.json")) {
    const auto report = read_json_file((fs::path(model_dir) / "report.json").string());
    const auto* grid = report.contains("settings") && report["settings"].contains("grid")
                           ? &report["settings"]["grid"]
                           : nullptr;
    if (grid && grid->contains("gguf_file_type")) {
      const std::string run_type = (*grid)["gguf_file_type"].get<std::string>();
      if (run_type != type)
        fail("{}: quantized on the gguf:{} grid; export it with --type {}", model_dir, run_type,
             run_type);
      solved = std::make_unique<QuantDir>(model_dir);
      for (const auto& n : solved->linears()) solved_linears.insert(n + ".weight");
    }
  }
  const ModelConfig& c = ckpt.config();
  if (c.loaq.online_down || c.loaq.online_o || c.loaq.act_bits < 16)
    fail(
        "{}: online rotations and activation quantization cannot be expressed in GGUF (llama.cpp "
        "would run a different model)",
        model_dir);
  ExportSummary sum;
  // The low-rank branches go to their own file, a llama.cpp LoRA adapter (export_gguf_lora.cc);
  // this one holds the main layers, its base.
  if (c.loaq.lowrank)
    sum.notes.push_back(
        "the low-rank branches are not in this file: export them with --format gguf-lora and run "
        "that adapter on this base with llama.cpp's --lora (or merge them: --format hf "
        "--merge-lowrank, then export that)");

  auto kv = gguf_arch_metadata(c);
  kv.push_back({"general.name", GgufValue::str(fs::path(model_dir).filename().string())});
  const uint32_t file_type = ft ? ft->ftype : gguf_float_file_type(float_type->type);
  kv.push_back({"general.file_type", GgufValue::u32(file_type)});
  if (ft) kv.push_back({"general.quantization_version", GgufValue::u32(2)});
  for (auto& e : gguf_tokenizer_metadata(model_dir, c)) kv.push_back(std::move(e));
  if (imatrix) {  // what llama-quantize records (its kv overrides: strings cut at 127 bytes)
    kv.push_back({"quantize.imatrix.file", GgufValue::str(opt.gguf_imatrix.substr(0, 127))});
    if (!imatrix->datasets.empty())
      kv.push_back(
          {"quantize.imatrix.dataset", GgufValue::str(imatrix->datasets[0].substr(0, 127))});
    kv.push_back(
        {"quantize.imatrix.entries_count", GgufValue::u32(uint32_t(imatrix->entries.size()))});
    if (imatrix->chunk_count > 0)
      kv.push_back(
          {"quantize.imatrix.chunks_count", GgufValue::u32(uint32_t(imatrix->chunk_count))});
  }

  // The tensors: every checkpoint tensor has a GGUF name, or the export refuses it.
  struct Item {
    std::string hf;  // empty for generated tensors (rope_freqs)
    GgufTensorSpec spec;
    int64_t permute_heads = 0;
  };
  std::vector<Item> items;
  if (c.rope_scaling)
    items.push_back({"", {"rope_freqs.weight", {c.head_dim / 2}, GgmlType::F32}, 0});
  auto add = [&](const std::string& hf) {
    const std::string gg = gguf_tensor_name(hf);
    if (gg.empty()) fail("{}: tensor '{}' has no GGUF name", model_dir, hf);
    const auto& info = ckpt.info(hf);
    std::vector<int64_t> ne(info.shape.rbegin(), info.shape.rend());
    GgmlType t = GgmlType::F32;
    GgufTensorPlace place;
    if (ne.size() == 2 && float_type) {
      t = float_type->type;
    } else if (ne.size() == 2 && gguf_role_of(gg, place.role, place.layer)) {
      place.n_layers = c.num_layers;
      place.n_gqa = c.num_heads / c.num_kv_heads;
      place.ncols = ne[0];
      place.tied = c.tie_word_embeddings;
      // The imatrix rules of the mixture: with --imatrix, or for the linears a run solved on
      // grids fitted as imatrix (it chose their types so).
      place.imatrix = imatrix.has_value() || (solved && solved->gguf_fit() == GgufFit::kImatrix);
      t = gguf_tensor_type(*ft, place, opt.gguf_pure);
      if (opt.gguf_pure && t != ft->base)
        sum.notes.push_back(fmt::format("{}: rows of {} are not whole {} blocks: {} instead", gg,
                                        ne[0], ggml_type_info(ft->base).name,
                                        ggml_type_info(t).name));
    }
    items.push_back({hf, {gg, ne, t}, gguf_qk_permute_heads(c, hf)});
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

  // The importance weights of a tensor, as llama-quantize looks them up: by its GGUF name, and
  // an entry of another size is an error (except for the embedding, which llama-quantize then
  // rounds without).
  int64_t weighted = 0;
  auto weights_of = [&](const Item& it) -> const float* {
    const ImatrixEntry* e = imatrix ? imatrix->find(it.spec.name) : nullptr;
    if (!e || it.spec.ne.size() != 2 || !gguf_block_format(it.spec.type)) return nullptr;
    if (int64_t(e->values.size()) != it.spec.ne[0]) {
      if (it.spec.name == "token_embd.weight") return nullptr;
      fail("{}: the entry of {} has {} values, the tensor has rows of {}", opt.gguf_imatrix,
           it.spec.name, e->values.size(), it.spec.ne[0]);
    }
    return e->values.data();
  };
  std::vector<GgufTensorSpec> specs;
  for (const auto& it : items) {
    specs.push_back(it.spec);
    if (!solved_linears.count(it.hf) && weights_of(it) &&
        gguf_block_format(it.spec.type)->quantize_imatrix)
      ++weighted;
  }
  write_gguf(out, kv, specs, [&](size_t i) {
    const Item& it = items[i];
    if (it.hf.empty()) {
      const auto f = llama3_rope_factors(c);
      return gguf_quantize_ref(GgmlType::F32, f.data(), int64_t(f.size()));
    }
    Tensor w = ckpt.load_f32(it.hf);
    ckpt.release(it.hf);
    if (solved_linears.count(it.hf))
      return solved_bytes(*solved, it.hf, it.spec, w, it.permute_heads);
    if (it.permute_heads) w = permute_qk_rows(w, it.permute_heads, false);
    const int64_t row = it.spec.ne.empty() ? 0 : it.spec.ne[0];
    if (it.spec.ne.size() != 2) return gguf_quantize_ref(it.spec.type, w.data.data(), w.numel());
    return gguf_quantize(it.spec.type, w.data.data(), w.numel() / row, row, weights_of(it));
  });
  if (imatrix)
    sum.notes.push_back(
        fmt::format("--imatrix {}: {} tensors rounded importance-weighted ({} entries in the file)",
                    opt.gguf_imatrix, weighted, imatrix->entries.size()));
  sum.out = out;
  sum.quantized_linears = int64_t(solved_linears.size());
  sum.dtype = type + (opt.gguf_pure ? " (pure)" : "");
  sum.files = {fs::path(out).filename().string()};
  return sum;
}

}  // namespace loaq
