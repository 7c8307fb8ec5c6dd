// Fake-quantized Hugging Face checkpoint: the dequantized weights of a `loaq quantize` output in
// a plain checkpoint directory.
#include "core/error.h"
#include "export/export.h"
#include "export/quant_dir.h"
#include "io/staged_dir.h"
#include "io/atomic_file.h"

namespace loaq {

ExportSummary export_hf(const std::string& quant_dir, const std::string& out,
                        const ExportOptions& opt) {
  check_output_target(out, opt.force, OutputKind::kHfExport, {quant_dir});
  const QuantDir q(quant_dir);
  // The weights must be exactly what the integer state describes (QuantDir::load_linear checks).
  for (const auto& name : q.linears()) (void)q.load_linear(name);
  DType dt = DType::F32;
  if (!opt.dtype.empty()) {
    dt = parse_float_dtype(opt.dtype);
  } else if (q.config_json().contains("torch_dtype") &&
             q.config_json()["torch_dtype"].is_string()) {
    const std::string td = q.config_json()["torch_dtype"];
    if (td == "float16" || td == "bfloat16" || td == "float32") dt = parse_float_dtype(td);
  }
  const SafetensorsFile& model = q.model();
  std::vector<PlannedTensor> plan;
  for (const auto& t : model.tensors())
    plan.push_back({t.name, dt, t.shape,
                    [&model, &t, dt] { return float_bytes(model.read_f32(t), dt, t.name); }});

  StagedDir dir(out, opt.force, OutputKind::kHfExport, {quant_dir});
  ExportSummary sum;
  sum.out = out;
  sum.dtype = torch_dtype_name(dt);
  sum.quantized_linears = int64_t(q.linears().size());
  sum.files = write_sharded(dir.path().string(), plan, opt.max_shard_bytes,
                           {{"format", "pt"}, {"loaq_export", "hf"}});
  nlohmann::ordered_json cfg = q.config_json();
  cfg["torch_dtype"] = sum.dtype;
  if (cfg.contains("dtype")) cfg["dtype"] = sum.dtype;
  write_file_atomic(dir.file("config.json"), cfg.dump(2) + "\n");
  sum.files.push_back("config.json");
  copy_tokenizer_files(q.dir(), dir.path().string());
  dir.commit();
  return sum;
}

}  // namespace loaq
