// `loaq export`: a `loaq quantize` output directory to a GPTQ-packed or a fake-quantized
// Hugging Face checkpoint (export/export.h).
#include <fmt/format.h>

#include <memory>

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
}

Runner add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export", "Write a quantized model (a `loaq quantize` output) in another format");
  cmd->add_option("QUANT_DIR", a->input, "Directory written by `loaq quantize --out`")->required();
  cmd->add_option("--format", a->opt.format,
                  "gptq (packed GPTQ v1 checkpoint) or hf (dequantized weights)")
      ->required()
      ->check(CLI::IsMember({"gptq", "hf"}));
  cmd->add_option("--out", a->out, "Output directory")->required();
  cmd->add_option(
      "--dtype", a->opt.dtype,
      "float16|bfloat16|float32: float tensors (gptq: embeddings, norms, head; default float16; "
      "hf: all, default the config's torch_dtype)");
  cmd->add_option("--max-shard-size", a->max_shard, "Largest safetensors shard (e.g. 5GB, 500MB)")
      ->capture_default_str();
  cmd->add_flag("--force", a->opt.force, "Replace an existing output directory");
  cmd->add_flag("-q,--quiet", a->quiet, "Print nothing on success");
  return [a] { return run_export(*a); };
}

}  // namespace loaq::cli
