#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "export/export.h"

namespace loaq {

void check_branch_act_quant(const std::string& dir, int64_t act_quantized, int64_t total,
                            const std::string& target, const ExportOptions& opt,
                            ExportSummary& sum) {
  if (act_quantized == 0) return;
  if (!opt.drop_branch_act_quant)
    fail(
        "{}: {} of the {} low-rank branches quantize their activations (branch bits W,A with "
        "A < 16), which {} cannot express: it runs them in floating point. Add "
        "--drop-branch-act-quant to export them without it",
        dir, act_quantized, total, target);
  sum.notes.push_back(fmt::format(
      "lost: the per-token activation quantization of {} branches, which {} cannot express",
      act_quantized, target));
}

DType parse_float_dtype(const std::string& s) {
  if (s == "float16" || s == "fp16" || s == "half") return DType::F16;
  if (s == "bfloat16" || s == "bf16") return DType::BF16;
  if (s == "float32" || s == "fp32" || s == "float") return DType::F32;
  fail("--dtype '{}': expected float16, bfloat16 or float32", s);
}

std::string torch_dtype_name(DType t) {
  switch (t) {
    case DType::F16:
      return "float16";
    case DType::BF16:
      return "bfloat16";
    case DType::F32:
      return "float32";
    default:
      fail("internal error: {} is not a float dtype for export", dtype_name(t));
  }
}

std::vector<std::byte> float_bytes(const Tensor& t, DType dt, const std::string& name) {
  const size_t n = t.data.size();
  std::vector<std::byte> out(n * dtype_size(dt));
  if (dt == DType::F32) {
    if (n) std::memcpy(out.data(), t.data.data(), n * 4);
    return out;
  }
  for (size_t i = 0; i < n; ++i) {
    const uint16_t h = dt == DType::F16 ? f32_to_f16(t.data[i]) : f32_to_bf16(t.data[i]);
    const float back = dt == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
    if (std::isinf(back) && !std::isinf(t.data[i]))
      fail("tensor '{}': value {} at index {} is outside the {} range", name, t.data[i], i,
           torch_dtype_name(dt));
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

std::span<const ExportFormat> export_formats() {
  static constexpr ExportFormat kFormats[] = {
      {"gptq", "packed GPTQ v1 checkpoint", export_gptq, true, false},
      {"hf", "dequantized weights", export_hf, true, false},
      {"peft", "the low-rank branches as a PEFT LoRA adapter", export_peft, true, false},
      {"gguf", "one file for llama.cpp", export_gguf, false, true},
      {"gguf-lora", "the low-rank branches as a llama.cpp LoRA adapter GGUF", export_gguf_lora,
       false, true},
  };
  return kFormats;
}

ExportSummary export_checkpoint(const std::string& quant_dir, const std::string& out,
                                const ExportOptions& opt) {
  // The formats that have a property, for the messages.
  auto names = [](bool ExportFormat::*has) {
    std::vector<std::string> v;
    for (const ExportFormat& f : export_formats())
      if (!has || f.*has) v.push_back(f.name);
    return fmt::format("{}", fmt::join(v, ", "));
  };
  for (const ExportFormat& f : export_formats()) {
    if (opt.format != f.name) continue;
    if (opt.merge_lowrank && opt.format != "hf")
      fail("--merge-lowrank applies to --format hf (got --format {})", opt.format);
    if (!opt.gguf_imatrix.empty() && opt.format != "gguf")
      fail("--imatrix applies to --format gguf (got --format {})", opt.format);
    if (!opt.dtype.empty() && !f.float_dtype)
      fail("--dtype applies to --format {}; --format {} takes --type",
           names(&ExportFormat::float_dtype), f.name);
    if (!opt.gguf_type.empty() && !f.gguf_type)
      fail("--type applies to --format {}; --format {} takes --dtype",
           names(&ExportFormat::gguf_type), f.name);
    return f.write(quant_dir, out, opt);
  }
  fail("--format '{}': expected one of {}", opt.format, names(nullptr));
}

}  // namespace loaq
