// GPTQ "v1" checkpoint (AutoGPTQ qlinear_cuda.py QuantLinear / GPTQModel, checkpoint_format
// "gptq"). Per quantized linear <name> with in inputs, out outputs, G groups and b bits:
//   <name>.qweight  I32 [in/32·b, out]  codes packed along the input dimension
//   (export/gptq_pack.h),
//                                      in the original column order
//   <name>.qzeros   I32 [G, out/32·b]   (zero − 1) packed along the output dimension
//   <name>.scales   F16 [G, out]
//   <name>.g_idx    I32 [in]            group of each input column (act-order: of its column's
//   step) <name>.bias     dtype [out]          only when the model has one
// and a loader dequantizes W[o, c] = scales[g, o] · (q[c, o] − (qzeros[g, o] + 1)), g = g_idx[c].
// Embeddings, norms and the head are stored in `dtype`.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "export/export.h"
#include "export/gptq_pack.h"
#include "export/quant_dir.h"
#include "io/atomic_file.h"
#include "io/staged_dir.h"

namespace loaq {

namespace {

struct PackedLinear {
  int64_t out = 0, in = 0, groups = 0;
  std::vector<int32_t> qweight, qzeros, g_idx;
  std::vector<uint16_t> scales;  // fp16 bits, [G, out]
  bool sym = true;               // every zero is 2^(b−1)
  bool trivial_g_idx = true;     // g_idx[c] = c / group_size
};

PackedLinear pack_linear(const LinearState& s, int bits, int64_t group_size,
                         const std::string& file) {
  PackedLinear p;
  p.out = s.out;
  p.in = s.in;
  p.groups = s.groups;
  if (s.in % 32 != 0 || s.out % 32 != 0)
    fail(
        "{}: {} is {}×{} (out×in); the GPTQ format packs 32 values per run and needs both "
        "dimensions to be "
        "multiples of 32 (use --format hf)",
        file, s.name, s.out, s.in);
  const int64_t maxq = (int64_t(1) << bits) - 1, half = int64_t(1) << (bits - 1);
  std::vector<uint32_t> zm1(size_t(s.groups * s.out));
  p.scales.resize(size_t(s.groups * s.out));
  for (int64_t o = 0; o < s.out; ++o)
    for (int64_t g = 0; g < s.groups; ++g) {
      const size_t i = size_t(o * s.groups + g);
      const float z = s.zero[i], sc = s.scale[i];
      if (z != std::nearbyint(z))
        fail(
            "{}: {} has a real-valued zero point {} (row {}, group {}); the GPTQ format stores "
            "integer zero points "
            "(use --format hf)",
            file, s.name, z, o, g);
      if (z < 1 || z > float(maxq))
        fail(
            "{}: {} has zero point {} (row {}, group {}); the GPTQ v1 format stores zero − 1 in {} "
            "bits and loaders "
            "add the 1 back with a carry into the next field, so only zero points 1..{} are "
            "representable "
            "(use --format hf, or quantize with --sym)",
            file, s.name, z, o, g, bits, maxq);
      const uint16_t h = f32_to_f16(sc);
      if (!std::isfinite(f16_to_f32(h)) || (f16_to_f32(h) == 0.0f && sc != 0.0f))
        fail(
            "{}: {} has scale {} (row {}, group {}), which is not representable in fp16 as the "
            "GPTQ format stores "
            "scales (use --format hf)",
            file, s.name, sc, o, g);
      p.scales[size_t(g * s.out + o)] = h;
      zm1[size_t(g * s.out + o)] = uint32_t(int64_t(z) - 1);
      p.sym = p.sym && int64_t(z) == half;
    }
  // qweight packs the transposed codes [in, out] along the input dimension.
  std::vector<uint32_t> t(size_t(s.in * s.out));
  for (int64_t o = 0; o < s.out; ++o)
    for (int64_t c = 0; c < s.in; ++c) t[size_t(c * s.out + o)] = s.codes[size_t(o * s.in + c)];
  p.qweight = gptq_pack_rows(t, s.in, s.out, bits);
  p.qzeros = gptq_pack_cols(zm1, s.groups, s.out, bits);
  p.g_idx = s.g_idx;
  const int64_t gs = group_size < 0 ? s.in : group_size;
  for (int64_t c = 0; c < s.in; ++c)
    p.trivial_g_idx = p.trivial_g_idx && s.g_idx[size_t(c)] == c / gs;
  return p;
}

template <class T>
std::vector<std::byte> as_byte_vector(const std::vector<T>& v) {
  const auto b = std::as_bytes(std::span<const T>(v));
  return {b.begin(), b.end()};
}

}  // namespace

ExportSummary export_gptq(const std::string& quant_dir, const std::string& out,
                          const ExportOptions& opt) {
  check_output_target(out, opt.force, OutputKind::kGptqExport, {quant_dir});
  const QuantDir q(quant_dir);
  if (!q.has_quant_state())
    fail(
        "{}: no quant_state.safetensors (a `--method none` run?): there are no integer codes to "
        "pack",
        q.dir());
  const std::string& state = q.state().path();
  const QuantStateMeta& m = q.meta();
  if (!gptq_bits_supported(m.bits))
    fail("{}: {}-bit codes; the GPTQ format defines 2, 3, 4 and 8 bits (use --format hf)", state,
         m.bits);
  if (m.real_zero)
    fail(
        "{}: the grid has real-valued zero points (metadata real_zero=true); the GPTQ format "
        "stores integer zero "
        "points (use --format hf)",
        state);
  const DType dt = opt.dtype.empty() ? DType::F16 : parse_float_dtype(opt.dtype);
  if (dt == DType::F32)
    fail("--dtype float32: a GPTQ checkpoint stores its float tensors in float16 or bfloat16");

  // Every linear of every layer must be quantized: the format has no per-module exceptions here.
  std::vector<std::string> expected;
  for (const auto& n : known_tensor_names(q.config()))
    if (n.ends_with("_proj.weight")) expected.push_back(n.substr(0, n.size() - 7));
  std::sort(expected.begin(), expected.end());
  if (q.linears() != expected) {
    for (const auto& n : expected)
      if (!std::binary_search(q.linears().begin(), q.linears().end(), n))
        fail(
            "{}: linear '{}' has no quantized state; a GPTQ checkpoint needs every linear "
            "quantized",
            state, n);
    fail("{}: the quantized linears do not match the model's", state);
  }

  std::map<std::string, PackedLinear> packed;
  bool sym = true, desc_act = false;
  for (const auto& name : q.linears()) {
    const LinearState s = q.load_linear(name);
    PackedLinear p = pack_linear(s, m.bits, m.group_size, state);  // checks the dimensions first
    // A ragged last group (--group not dividing the input dimension) has no place in GPTQ
    // loaders, which take the group of column c as c / group_size over in / group_size groups.
    if (m.group_size > 0 && s.in % m.group_size != 0)
      fail(
          "{}: group size {} does not divide the input dimension {} of '{}'; the GPTQ format "
          "cannot store its ragged last group (use --format hf, or a --group that divides it)",
          state, m.group_size, s.in, name);
    sym = sym && p.sym;
    desc_act = desc_act || !p.trivial_g_idx;
    packed.emplace(name, std::move(p));
  }
  if (m.sym && !sym)
    fail("{}: metadata says sym=true but the zero points are not all 2^(bits−1)", state);

  // Tensors: packed linears, then everything else in `dt`.
  std::vector<PlannedTensor> plan;
  const Checkpoint& model = q.weights();
  for (const std::string& n : model.tensor_names()) {
    if (n.ends_with(".weight") && packed.count(n.substr(0, n.size() - 7))) {
      const std::string base = n.substr(0, n.size() - 7);
      const PackedLinear& p = packed.at(base);
      const int64_t b = m.bits;
      plan.push_back({base + ".qweight", DType::I32, {p.in / 32 * b, p.out}, [&p] {
                        return as_byte_vector(p.qweight);
                      }});
      plan.push_back({base + ".qzeros", DType::I32, {p.groups, p.out / 32 * b}, [&p] {
                        return as_byte_vector(p.qzeros);
                      }});
      plan.push_back({base + ".scales", DType::F16, {p.groups, p.out}, [&p] {
                        return as_byte_vector(p.scales);
                      }});
      plan.push_back(
          {base + ".g_idx", DType::I32, {p.in}, [&p] { return as_byte_vector(p.g_idx); }});
    } else {
      plan.push_back({n, dt, model.info(n).shape,
                      [&model, n, dt] { return float_bytes(model.load_f32(n), dt, n); }});
    }
  }

  const auto& settings = q.report()["settings"];
  nlohmann::ordered_json qc;
  qc["bits"] = m.bits;
  qc["group_size"] = m.group_size;
  qc["desc_act"] = desc_act;
  qc["sym"] = sym;
  qc["lm_head"] = false;
  qc["quant_method"] = "gptq";
  qc["checkpoint_format"] = "gptq";
  qc["pack_dtype"] = "int32";
  qc["true_sequential"] = true;
  if (settings.contains("solver")) {
    qc["damp_percent"] = settings["solver"].value("percdamp", 0.01);
    qc["static_groups"] = settings["solver"].value("static_groups", false);
  }
  qc["model_file_base_name"] = "model";
  qc["meta"] = {{"quantizer", {"loaq:0.1.0"}},
                {"loaq_method", settings.value("method", std::string())},
                {"loaq_grid", m.grid}};

  StagedDir dir(out, opt.force, OutputKind::kGptqExport, {quant_dir});
  ExportSummary sum;
  sum.out = out;
  sum.dtype = torch_dtype_name(dt);
  sum.quantized_linears = int64_t(packed.size());
  if (q.has_lowrank())
    sum.notes.push_back(fmt::format(
        "the {} low-rank branches are not in a GPTQ checkpoint: export them with --format peft "
        "and load that adapter on this base",
        q.lowrank_linears().size()));
  sum.quantization_config = qc;
  sum.files = write_sharded(dir.path().string(), plan, opt.max_shard_bytes,
                            {{"format", "pt"}, {"loaq_export", "gptq"}});
  nlohmann::ordered_json cfg = q.config_json();
  cfg["torch_dtype"] = sum.dtype;
  if (cfg.contains("dtype")) cfg["dtype"] = sum.dtype;
  cfg["quantization_config"] = qc;
  write_file_atomic(dir.file("config.json"), cfg.dump(2) + "\n");
  write_file_atomic(dir.file("quantize_config.json"), qc.dump(2) + "\n");
  sum.files.push_back("config.json");
  sum.files.push_back("quantize_config.json");
  copy_tokenizer_files(q.dir(), dir.path().string());
  dir.commit();
  return sum;
}

}  // namespace loaq
