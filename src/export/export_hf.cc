// Fake-quantized Hugging Face checkpoint: the dequantized weights of a `loaq quantize` output in
// a plain checkpoint directory.
#include <fmt/format.h>

#include <map>

#include "core/error.h"
#include "core/lowrank_branch.h"
#include "export/export.h"
#include "export/quant_dir.h"
#include "io/atomic_file.h"
#include "io/staged_dir.h"

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
  const Checkpoint& model = q.weights();
  // --merge-lowrank: W ← Q(W) + L2·L1 for each linear with a branch (its activation quantizer,
  // if any, cannot be merged: refused unless dropped knowingly).
  std::map<std::string, LowRankBranch> merge;
  ExportSummary sum;
  if (opt.merge_lowrank) {
    if (!q.has_lowrank())
      fail("{}: --merge-lowrank, but the model has no low-rank branch", q.dir());
    int64_t act = 0;
    for (const auto& n : q.lowrank_linears()) {
      merge.emplace(n + ".weight", q.load_lowrank(n));
      act += merge.at(n + ".weight").act_bits < 16;
    }
    check_branch_act_quant(q.dir(), act, int64_t(merge.size()), "merged weights", opt, sum);
    sum.lowrank_linears = int64_t(merge.size());
  } else if (q.has_lowrank()) {
    sum.notes.push_back(fmt::format(
        "the {} low-rank branches are not in these weights: export them with --format peft, or "
        "add --merge-lowrank",
        q.lowrank_linears().size()));
  }
  std::vector<PlannedTensor> plan;
  for (const std::string& n : model.tensor_names()) {
    const auto it = merge.find(n);
    const LowRankBranch* b = it == merge.end() ? nullptr : &it->second;
    plan.push_back({n, dt, model.info(n).shape, [&model, n, dt, b] {
                      Tensor w = model.load_f32(n);
                      if (b) {
                        const Tensor p = lowrank_product(*b);
                        for (size_t i = 0; i < w.data.size(); ++i) w.data[i] += p.data[i];
                      }
                      return float_bytes(w, dt, n);
                    }});
  }

  StagedDir dir(out, opt.force, OutputKind::kHfExport, {quant_dir});
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
