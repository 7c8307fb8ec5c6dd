// The low-rank branches of a `loaq quantize` output as a llama.cpp LoRA adapter GGUF (export.h),
// run on the base that `--format gguf` writes from the same directory (its main layers) by
// llama.cpp's --lora (llama_adapter_lora_init).
//
// What llama.cpp reads (src/llama-adapter.cpp, llama-graph.cpp build_lora_mm): general.type
// "adapter", adapter.type "lora", general.architecture equal to the base's, the float
// adapter.lora.alpha, and per adapted weight T the pair T.lora_a, ne = {in, r}, and T.lora_b,
// ne = {r, out}. It adds scale · lora_b · (lora_a · x) to T · x, with
// scale = alpha ? user_scale · alpha / r : user_scale, r = lora_b's ne[0]. In the row-major
// layout of ne = {in, r}, lora_a is L1 [r, in] as loaq stores it, and lora_b is L2 [out, r]; so
// at a user scale of 1 (llama.cpp's default for --lora) the adapter adds L2 (L1 x) exactly when
// alpha = r, or alpha = 0 (what this writer uses when the ranks differ, since one alpha cannot be
// every rank; llama-export-lora reads alpha 0 the same way). lora_b's rows of a llama q_proj /
// k_proj follow the base's q/k row permutation (convert_lora_to_gguf.py permutes lora_B and
// leaves lora_A).
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "export/export.h"
#include "export/gguf_names.h"
#include "export/gguf_output.h"
#include "export/quant_dir.h"
#include "io/gguf.h"
#include "model/weights.h"

namespace loaq {

namespace {

DType torch_dtype_of(GgmlType t) {
  return t == GgmlType::F32 ? DType::F32 : t == GgmlType::F16 ? DType::F16 : DType::BF16;
}

}  // namespace

ExportSummary export_gguf_lora(const std::string& quant_dir, const std::string& out,
                               const ExportOptions& opt) {
  const std::string type = opt.gguf_type.empty() ? "F32" : opt.gguf_type;
  const GgmlTypeInfo* ft = gguf_float_type(type);
  if (!ft)
    fail("--type {}: a LoRA adapter GGUF holds F32, F16 or BF16 factors (default F32)", type);
  if (opt.gguf_pure) fail("--pure applies to --format gguf with a quantized --type");
  check_gguf_output(out, quant_dir, opt.force);
  const QuantDir q(quant_dir);
  if (!q.has_lowrank())
    fail(
        "{}: the model has no low-rank branch (quantize with --lowrank); nothing to export as a "
        "LoRA adapter",
        q.dir());
  const ModelConfig& c = q.config();

  // The branches in the base file's tensor order: layer by layer, q k v o gate up down.
  struct Item {
    std::string hf;  // "model.layers.0.self_attn.q_proj"
    std::string gg;  // "blk.0.attn_q.weight"
    LowRankBranch b;
  };
  std::vector<Item> items;
  const std::vector<std::string>& names = q.lowrank_linears();
  const std::set<std::string> with_branch(names.begin(), names.end());
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (LinearName n : kAllLinears) {
      const std::string hf = fmt::format("model.layers.{}.{}", i, linear_path(n));
      if (!with_branch.count(hf)) continue;
      items.push_back({hf, gguf_tensor_name(hf + ".weight"), q.load_lowrank(hf)});
    }
  if (items.size() != names.size())
    fail("{}: {} low-rank branches, of which only {} belong to a linear of the {} model's GGUF",
         q.dir(), names.size(), items.size(), arch_name(c.arch));

  std::map<int64_t, int64_t> rank_count;
  int64_t act = 0, wq = 0;
  for (const auto& it : items) {
    ++rank_count[it.b.rank()];
    act += it.b.act_bits < 16;
    wq += it.b.l1.quantized() || it.b.l2.quantized();
  }
  ExportSummary sum;
  check_branch_act_quant(q.dir(), act, int64_t(items.size()), "a llama.cpp LoRA adapter", opt, sum);
  if (wq)
    sum.notes.push_back(fmt::format(
        "{} branches have quantized weights; the adapter holds their dequantized values{}", wq,
        ft->type == GgmlType::F32 ? " exactly (F32)" : fmt::format(", rounded to {}", type)));
  // One alpha for the file: the rank when all are equal (scale alpha / r = 1), else 0 (scale 1).
  const float alpha = rank_count.size() == 1 ? float(rank_count.begin()->first) : 0.0f;
  if (rank_count.size() > 1) {
    std::vector<std::string> ranks;
    for (const auto& [r, n] : rank_count) ranks.push_back(fmt::format("{} × r={}", n, r));
    sum.notes.push_back(fmt::format(
        "the branches have different ranks ({}): adapter.lora.alpha = 0, which llama.cpp reads as "
        "scale 1 for every tensor",
        fmt::join(ranks, ", ")));
  }

  std::vector<std::pair<std::string, GgufValue>> kv = {
      {"general.architecture", GgufValue::str(gguf_arch_name(c.arch))},
      {"general.type", GgufValue::str("adapter")},
      {"general.name", GgufValue::str(std::filesystem::path(q.dir()).filename().string())},
      {"general.file_type", GgufValue::u32(gguf_float_file_type(ft->type))},
      {"adapter.type", GgufValue::str("lora")},
      {"adapter.lora.alpha", GgufValue::f32(alpha)},
  };
  std::vector<GgufTensorSpec> specs;
  for (const auto& it : items) {
    specs.push_back({it.gg + ".lora_a", {it.b.in(), it.b.rank()}, ft->type});
    specs.push_back({it.gg + ".lora_b", {it.b.rank(), it.b.out()}, ft->type});
  }
  const DType dt = torch_dtype_of(ft->type);
  write_gguf(out, kv, specs, [&](size_t i) {
    const Item& it = items[i / 2];
    if (i % 2 == 0) return float_bytes(it.b.l1.dequantize(), dt, specs[i].name);
    Tensor l2 = it.b.l2.dequantize();
    if (const int64_t heads = gguf_qk_permute_heads(c, it.hf))
      l2 = permute_qk_rows(l2, heads, false);
    return float_bytes(l2, dt, specs[i].name);
  });
  sum.out = out;
  sum.dtype = type;
  sum.lowrank_linears = int64_t(items.size());
  sum.files = {std::filesystem::path(out).filename().string()};
  return sum;
}

}  // namespace loaq
