// The low-rank branches of a `loaq quantize` output as a PEFT LoRA adapter (issue 14), the form
// transformers, PEFT and vLLM load on top of a GPTQ (or plain) base, as GPTQModel's EoRA writes it.
// PEFT's LoRA computes y = W x + (α/r) · B (A x) with A = lora_A.weight [r, in] and
// B = lora_B.weight [out, r]; with lora_alpha = r (and alpha_pattern = the rank for modules of
// another rank) the scaling is 1, so A = L1 and B = L2.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "export/export.h"
#include "export/quant_dir.h"
#include "io/atomic_file.h"
#include "io/output_target.h"
#include "io/staged_dir.h"

namespace loaq {

namespace {

// "model.layers.3.self_attn.q_proj" → "q_proj".
std::string short_name(const std::string& n) {
  return n.substr(n.rfind('.') + 1);
}

// The key PEFT matches with re.match(r"(.*\.)?(key)$") (and the older r".*\.key$"): the module
// name without its leading "model.", e.g. "layers.3.self_attn.q_proj".
std::string pattern_key(const std::string& n) {
  return n.starts_with("model.") ? n.substr(6) : n;
}

}  // namespace

ExportSummary export_peft(const std::string& quant_dir, const std::string& out,
                          const ExportOptions& opt) {
  check_output_target(out, opt.force, OutputKind::kPeftExport, {quant_dir});
  const QuantDir q(quant_dir);
  if (!q.has_lowrank())
    fail(
        "{}: the model has no low-rank branch (quantize with --lowrank); nothing to export as a "
        "PEFT adapter",
        q.dir());
  const DType dt = opt.dtype.empty() ? DType::F16 : parse_float_dtype(opt.dtype);

  std::map<std::string, LowRankBranch> branches;
  std::map<int64_t, int64_t> rank_count;
  int64_t act = 0, wq = 0;
  for (const auto& n : q.lowrank_linears()) {
    const LowRankBranch b = q.load_lowrank(n);
    ++rank_count[b.rank()];
    act += b.act_bits < 16;
    wq += b.l1.quantized();
    branches.emplace(n, b);
  }
  ExportSummary sum;
  check_branch_act_quant(q.dir(), act, int64_t(branches.size()), "a LoRA adapter", opt, sum);
  if (wq)
    sum.notes.push_back(fmt::format(
        "{} branches have quantized weights; the adapter holds their dequantized values in {}", wq,
        torch_dtype_name(dt)));

  // r: the most common rank (the smallest on a tie); other ranks go to rank_pattern.
  int64_t r = 0, best = -1;
  for (const auto& [rank, count] : rank_count)
    if (count > best) r = rank, best = count;
  nlohmann::ordered_json rank_pattern = nlohmann::ordered_json::object(),
                         alpha_pattern = nlohmann::ordered_json::object();
  for (const auto& [n, b] : branches)
    if (b.rank() != r) {
      rank_pattern[pattern_key(n)] = b.rank();
      alpha_pattern[pattern_key(n)] = b.rank();
    }
  // target_modules: the short names when every linear of that name has a branch, else the names.
  std::set<std::string> shorts;
  for (const auto& [n, b] : branches) shorts.insert(short_name(n));
  std::vector<std::string> targets;
  for (const auto& s : shorts) {
    bool all = true;
    for (const auto& t : known_tensor_names(q.config()))
      if (t.ends_with("." + s + ".weight") && !branches.count(t.substr(0, t.size() - 7)))
        all = false;
    if (all) {
      targets.push_back(s);
    } else {
      for (const auto& [n, b] : branches)
        if (short_name(n) == s) targets.push_back(n);
    }
  }
  std::string base = opt.base_model;
  if (base.empty() && q.report().contains("model") && q.report()["model"].is_string())
    base = q.report()["model"].get<std::string>();

  nlohmann::ordered_json cfg = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"base_model_name_or_path", base},
      {"r", r},
      {"lora_alpha", r},
      {"lora_dropout", 0.0},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"use_rslora", false},
      {"use_dora", false},
      {"target_modules", targets},
      {"rank_pattern", rank_pattern},
      {"alpha_pattern", alpha_pattern},
      {"modules_to_save", nullptr},
      {"layers_to_transform", nullptr},
      {"layers_pattern", nullptr},
      {"revision", nullptr},
  };

  std::vector<PlannedTensor> plan;
  for (const auto& [n, b] : branches) {
    const std::string p = "base_model.model." + n;
    const LowRankBranch* bp = &b;
    plan.push_back({p + ".lora_A.weight", dt, {b.rank(), b.in()}, [bp, dt, p] {
                      return float_bytes(bp->l1.dequantize(), dt, p + ".lora_A.weight");
                    }});
    plan.push_back({p + ".lora_B.weight", dt, {b.out(), b.rank()}, [bp, dt, p] {
                      return float_bytes(bp->l2.dequantize(), dt, p + ".lora_B.weight");
                    }});
  }
  std::sort(plan.begin(), plan.end(),
            [](const PlannedTensor& a, const PlannedTensor& b) { return a.name < b.name; });

  StagedDir dir(out, opt.force, OutputKind::kPeftExport, {quant_dir});
  sum.out = out;
  sum.dtype = torch_dtype_name(dt);
  sum.lowrank_linears = int64_t(branches.size());
  // One file, as PEFT's save_pretrained writes it (adapters are small).
  std::vector<std::string> files = write_sharded(dir.path().string(), plan, UINT64_MAX,
                                                 {{"format", "pt"}, {"loaq_export", "peft"}});
  if (files.size() != 1 || files[0] != "model.safetensors")
    fail("internal error: the adapter was not written as one file");
  std::filesystem::rename(dir.path() / "model.safetensors",
                          dir.path() / "adapter_model.safetensors");
  sum.files.push_back("adapter_model.safetensors");
  write_file_atomic(dir.file("adapter_config.json"), cfg.dump(2) + "\n");
  sum.files.push_back("adapter_config.json");
  dir.commit();
  return sum;
}

}  // namespace loaq
