// `loaq export`: a `loaq quantize` output directory to a GPTQ-packed or a fake-quantized
// Hugging Face checkpoint or a GGUF file, or its low-rank branches to a PEFT or a llama.cpp LoRA
// adapter (export/export.h; the formats are the rows of export_formats()).
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "export/export.h"

namespace loaq::cli {

namespace {

struct ExportArgs {
  std::string input, out, max_shard = "5GB";
  ExportOptions opt;
  bool quiet = false;
};

int run_export(ExportArgs& a) {
  a.opt.max_shard_bytes = parse_size(a.max_shard);
  const ExportSummary s = export_checkpoint(a.input, a.out, a.opt);
  if (!a.quiet) print_export_summary(s, a.opt.format);
  return 0;
}

}  // namespace

void print_export_summary(const ExportSummary& s, const std::string& format) {
  fmt::print("wrote {} ({} format, {} tensors, {} quantized linears): {}\n", s.out, format, s.dtype,
             s.quantized_linears, fmt::join(s.files, ", "));
  if (!s.quantization_config.is_null())
    fmt::print("quantization_config: {}\n", s.quantization_config.dump());
  if (s.lowrank_linears > 0) fmt::print("low-rank branches: {}\n", s.lowrank_linears);
  for (const auto& n : s.notes) fmt::print("note: {}\n", n);
}

Runner add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export", "Write a quantized model (a `loaq quantize` output) in another format");
  cmd->add_option("QUANT_DIR", a->input,
                  "Directory written by `loaq quantize --out` (gguf: any Hugging Face directory)")
      ->required();
  std::vector<std::string> names, help;
  for (const ExportFormat& f : export_formats()) {
    names.push_back(f.name);
    help.push_back(fmt::format("{} ({})", f.name, f.what));
  }
  cmd->add_option("--format", a->opt.format, fmt::format("{}", fmt::join(help, ", ")))
      ->required()
      ->check(CLI::IsMember(names));
  cmd->add_option("--out", a->out, "Output directory (gguf, gguf-lora: output file)")->required();
  cmd->add_option("--type", a->opt.gguf_type,
                  "gguf: F32, F16 (default), BF16, or a llama-quantize file type (Q8_0, Q4_0, "
                  "Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S, Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K) "
                  "with its per-tensor mixture, rounded by llama.cpp's reference quantizer; "
                  "gguf-lora: F32 (default), F16 or BF16");
  cmd->add_option("--imatrix", a->opt.gguf_imatrix,
                  "gguf: an importance matrix written by llama-imatrix (GGUF or legacy .dat): the "
                  "tensors it covers are rounded importance-weighted, as llama-quantize --imatrix");
  cmd->add_flag("--pure", a->opt.gguf_pure,
                "gguf: every weight matrix the file type's base type (llama-quantize --pure)");
  cmd->add_option(
      "--dtype", a->opt.dtype,
      "float16|bfloat16|float32: float tensors (gptq: embeddings, norms, head; default float16; "
      "hf: all, default the config's torch_dtype)");
  cmd->add_option("--max-shard-size", a->max_shard, "Largest safetensors shard (e.g. 5GB, 500MB)")
      ->capture_default_str();
  cmd->add_flag("--merge-lowrank", a->opt.merge_lowrank,
                "hf: add each low-rank branch's L2·L1 into its weight");
  cmd->add_flag("--drop-branch-act-quant", a->opt.drop_branch_act_quant,
                "peft, gguf-lora, hf --merge-lowrank: export branches whose activations are "
                "quantized without that quantization");
  cmd->add_option("--base-model", a->opt.base_model,
                  "peft: base_model_name_or_path (default: the model the run quantized)");
  cmd->add_flag("--force", a->opt.force, "Replace an existing output directory");
  cmd->add_flag("-q,--quiet", a->quiet, "Print nothing on success");
  return [a] { return run_export(*a); };
}

}  // namespace loaq::cli
