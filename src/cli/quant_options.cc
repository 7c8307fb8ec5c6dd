#include "cli/quant_options.h"

#include <algorithm>

#include "core/error.h"
#include "core/memory.h"
#include "quant/gguf_grid.h"
#include "quant/gguf_mixture.h"

namespace loaq::cli {

void add_quant_options(CLI::App* cmd, QuantArgs& a, bool with_method) {
  if (with_method) {
    cmd->add_option("--method", a.method, "none, rtn, gptq, gptaq, qronos or loaq")
        ->capture_default_str();
    cmd->add_option("--wbits", a.wbits, "Weight bit-width (2–8)")->capture_default_str();
  }
  cmd->add_option("--group", a.group, "Group size along the input dimension (-1: per channel)")
      ->capture_default_str();
  cmd->add_flag("--sym", a.sym, "Symmetric grid (GPTQ reference's)");
  cmd->add_option("--grid", a.grid,
                  "Scale/zero fit: minmax, mse (quant.py clip search), neuqi (NeUQI, real zero "
                  "point, weighted "
                  "by diag H), neuqi-int (NeUQI with an integer zero point), or gguf:TYPE "
                  "(llama.cpp's blocks: each linear the type llama-quantize's mixture TYPE gives "
                  "it, e.g. gguf:Q4_K_M; --wbits, --group and --sym do not apply)")
      ->capture_default_str();
  cmd->add_option("--gguf-fit", a.gguf_fit,
                  "gguf:TYPE grids: how the block headers are fitted before the solve, as "
                  "llama-quantize fits them: imatrix (default: weighted by each input's mean "
                  "square over the calibration, diag(H)/tokens, as with an imatrix; RTN then reads "
                  "calibration) or unweighted (its reference quantizer, without an imatrix)");
  cmd->add_flag("--mse", a.mse,
                "Same as --grid mse (GPTQ quant.py: grid 100, maxshrink 0.8, norm 2.4)");
  cmd->add_flag("--act-order", a.act_order, "Quantize columns by descending diag(H)");
  cmd->add_flag("--static-groups", a.static_groups, "Fit group grids before any update");
  cmd->add_option("--percdamp", a.percdamp, "GPTQ damping as a fraction of mean(diag H)")
      ->capture_default_str();
  cmd->add_option("--blocksize", a.blocksize, "GPTQ lazy-update block size")->capture_default_str();
  cmd->add_option("--alpha", a.alpha, "LoaQ α (linear-layer output approximation)")
      ->capture_default_str();
  cmd->add_option("--beta", a.beta, "LoaQ β (sub-layer output approximation)")
      ->capture_default_str();
  cmd->add_flag("--no-noa", a.no_noa,
                "LoaQ without the normalized output approximation (s = ŝ = 1)");
  cmd->add_flag("--no-soa", a.no_soa, "LoaQ without the sub-layer output approximation (β = 0)");
  cmd->add_option("--gptaq-alpha", a.gptaq_alpha, "GPTAQ α")->capture_default_str();
  cmd->add_option("--qronos-alpha", a.qronos_alpha, "Qronos damping α·λmax(H)")
      ->capture_default_str();
  cmd->add_option("--abits", a.abits,
                  "Activation bits, per token, dynamic, asymmetric min-max (16: none; W4A4: 4)")
      ->capture_default_str();
  cmd->add_option("--a-clip", a.a_clip, "Activation clip ratio in (0, 1]")->capture_default_str();
  cmd->add_option("--calib", a.calib, "Calibration: c4, or a .jsonl / text file")
      ->capture_default_str();
  cmd->add_option("--calib-ids", a.calib_ids,
                  "safetensors with input_ids [nsamples, seqlen]: use these windows");
  cmd->add_option("--nsamples", a.nsamples, "Calibration windows")->capture_default_str();
  cmd->add_option("--seqlen", a.seqlen, "Calibration window length (default min(2048, context))")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 30));
  cmd->add_option("--seed", a.seed, "Calibration seed")->capture_default_str();
  cmd->add_option(
         "--rotate", a.rotate,
         "Rotate the model before quantizing (QuaRot): none or hadamard (norms folded, residual "
         "stream by a randomized Hadamard, online Hadamard on down_proj's input and across heads "
         "on o_proj's)")
      ->capture_default_str();
  cmd->add_option("--rotate-seed", a.rotate_seed, "Seed of the rotation's random signs")
      ->capture_default_str();
  cmd->add_option("--stream-dtype", a.stream_dtype,
                  "Storage of the two calibration streams: f32 (exact) or bf16 (half the memory)")
      ->capture_default_str();
  cmd->add_option("--chunk-samples", a.chunk_samples, "Calibration windows per forward chunk")
      ->capture_default_str();
  cmd->add_option("--cache-bytes", a.cache_bytes,
                  "Keep the W_out inputs of all chunks when they fit in this much memory (0: "
                  "recompute them; results are identical)")
      ->capture_default_str();
  const char* g = "Low-rank branch (LoRaQ; README \"Low-rank branch\")";
  cmd->add_option("--lowrank", a.lowrank,
                  "Low-rank branch fitted to each linear's quantization error: none, svd (LoRC), "
                  "lqer, qera (≡ EoRA) or loaq (LoRaQ: Adam through the branch quantizers)")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--rank", a.rank, "Rank r of the branch (clamped to min(out, in))")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--lowrank-bits", a.lowrank_bits,
                  "Branch precision W,A: weight bits of L1/L2 (2–8, or 16) and activation bits of "
                  "its input and of L1·x (2–16), e.g. 8,8, 6,6, 4,8; 16,16: full precision")
      ->capture_default_str()
      ->group(g);
  cmd->add_flag("--lowrank-first", a.lowrank_first,
                "SVDQuant's order: fit the branch on W, then quantize W − L2·L1")
      ->group(g);
  cmd->add_flag("--lowrank-weighted", a.lowrank_weighted,
                "--lowrank loaq on the activation-weighted loss tr((E − B) H (E − B)ᵀ), from qera")
      ->group(g);
  cmd->add_option("--lowrank-steps", a.lowrank_steps, "loaq: Adam steps")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--lowrank-lr", a.lowrank_lr, "loaq: learning rate (× each factor's RMS)")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--lowrank-patience", a.lowrank_patience,
                  "loaq: stop after this many steps without a lower loss (0: never)")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--lowrank-svd", a.lowrank_svd,
                  "SVD: auto, full (LAPACK gesdd) or randomized (r + 10 columns, 2 power "
                  "iterations)")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--lowrank-seed", a.lowrank_seed, "Seed of the randomized SVD")
      ->capture_default_str()
      ->group(g);
}

QuantizeConfig to_quantize_config(const QuantArgs& a, const std::string& method, int wbits,
                                  bool progress) {
  QuantizeConfig q;
  q.method = parse_method(method);
  q.grid.bits = wbits;
  q.grid.group = a.group;
  q.grid.sym = a.sym;
  if (a.grid.rfind("gguf:", 0) == 0) {
    // GGUF block grids: the base type's grid; each linear's own comes from the mixture
    // (config.h's gguf_file_type, quant/gguf_grid.h's gguf_grid_for_linear).
    q.gguf_file_type = a.grid.substr(5);
    const GgufFileType* ft = gguf_file_type(q.gguf_file_type);
    if (!ft) {
      std::string names;
      for (const auto& n : gguf_file_type_names()) names += (names.empty() ? "" : ", ") + n;
      fail("--grid {}: expected gguf: and one of {}", a.grid, names);
    }
    if (a.mse || a.sym)
      fail("--grid {}: --mse and --sym do not apply to a GGUF block grid", a.grid);
    q.grid = gguf_grid(ft->base, parse_gguf_fit(a.gguf_fit.empty() ? "imatrix" : a.gguf_fit));
  } else {
    if (!a.gguf_fit.empty())
      fail("--gguf-fit {}: applies to a GGUF block grid (--grid gguf:TYPE), not --grid {}",
           a.gguf_fit, a.grid);
    q.grid.fit = parse_grid_fit(a.grid);
  }
  if (a.mse) {
    if (q.grid.fit != GridFit::kMinMax && q.grid.fit != GridFit::kMse)
      fail("--mse conflicts with --grid {} (--mse means --grid mse)", a.grid);
    q.grid.fit = GridFit::kMse;
  }
  validate(q.grid);
  q.solver.percdamp = a.percdamp;
  q.solver.blocksize = a.blocksize;
  q.solver.act_order = a.act_order;
  q.solver.static_groups = a.static_groups;
  if (a.percdamp < 0) fail("--percdamp must be ≥ 0 (got {})", a.percdamp);
  if (a.blocksize < 1) fail("--blocksize must be positive (got {})", a.blocksize);
  q.gptaq_alpha = a.gptaq_alpha;
  q.qronos_alpha = a.qronos_alpha;
  q.loaq.alpha = a.alpha;
  q.loaq.beta = a.no_soa ? 0.0 : a.beta;
  q.loaq.noa = !a.no_noa;
  q.loaq.soa = !a.no_soa;
  q.act = {a.abits, float(a.a_clip)};
  validate(q.act);
  q.progress = progress;
  if (q.grid.neuqi() && q.grid.group > 0) q.solver.static_groups = true;  // fitted before the solve
  if (a.rotate != "none" && a.rotate != "hadamard")
    fail("--rotate '{}': choose one of none, hadamard", a.rotate);
  q.rotate = a.rotate == "hadamard";
  q.rotate_seed = a.rotate_seed;
  if (a.stream_dtype == "f32")
    q.stream_dtype = DType::F32;
  else if (a.stream_dtype == "bf16")
    q.stream_dtype = DType::BF16;
  else
    fail("--stream-dtype '{}': choose f32 or bf16", a.stream_dtype);
  if (a.chunk_samples < 1) fail("--chunk-samples must be positive (got {})", a.chunk_samples);
  q.chunk_samples = a.chunk_samples;
  q.cache_bytes = int64_t(parse_memory_size(a.cache_bytes, "--cache-bytes"));
  q.lowrank.rule = parse_lowrank_rule(a.lowrank);
  q.lowrank.rank = a.rank;
  q.lowrank.first = a.lowrank_first;
  parse_lowrank_bits(a.lowrank_bits, q.lowrank);
  q.lowrank.weighted = a.lowrank_weighted;
  q.lowrank.steps = a.lowrank_steps;
  q.lowrank.lr = a.lowrank_lr;
  q.lowrank.patience = a.lowrank_patience;
  q.lowrank.svd.method = parse_svd_method(a.lowrank_svd);
  q.lowrank.svd.seed = a.lowrank_seed;
  if (a.rank < 1) fail("--rank must be ≥ 1 (got {})", a.rank);
  if (q.lowrank.enabled()) {
    validate(q.lowrank);
    if (q.method == Method::kNone) fail("--lowrank {} needs a --method that quantizes", a.lowrank);
  }
  if (q.method == Method::kQronos && a.static_groups)
    fail("--static-groups: Qronos always fits its grid once on the original weight");
  return q;
}

CalibConfig to_calib_config(const QuantArgs& a, int64_t model_context) {
  CalibConfig c;
  c.source = a.calib;
  c.ids_file = a.calib_ids;
  c.nsamples = a.nsamples;
  c.seqlen = a.seqlen > 0 ? a.seqlen : std::min<int64_t>(2048, model_context);
  c.seed = a.seed;
  if (c.seqlen > model_context)
    fail("--seqlen {} exceeds the model's context of {} positions", c.seqlen, model_context);
  if (c.nsamples < 1) fail("--nsamples must be positive (got {})", c.nsamples);
  return c;
}

nlohmann::ordered_json rotation_json(const RotationReport& r) {
  return {{"mode", r.mode},
          {"seed", r.seed},
          {"residual", r.residual},
          {"online_down", r.online_down},
          {"online_o", r.online_o},
          {"head", r.head},
          {"untied_head", r.untied_head},
          {"fallback_sizes", r.fallbacks}};
}

nlohmann::ordered_json quant_settings_json(const QuantizeConfig& q, const CalibSet& calib) {
  nlohmann::ordered_json j;
  j["method"] = method_name(q.method);
  j["grid"] = {{"bits", q.grid.bits},
               {"group", q.grid.group},
               {"sym", q.grid.sym},
               {"fit", grid_fit_name(q.grid.fit)},
               {"mse", q.grid.fit == GridFit::kMse},
               {"describe", q.grid.describe()}};
  if (!q.gguf_file_type.empty()) {
    j["grid"]["gguf_file_type"] = q.gguf_file_type;
    j["grid"]["gguf_fit"] = gguf_fit_name(q.grid.gguf_fit);
  }
  if (q.grid.neuqi()) {
    const bool int_zero = q.grid.fit == GridFit::kNeuqiInt;
    j["grid"]["neuqi"] = {
        {"zero_point", int_zero ? "integer in [0, 2^b-1]" : "real"},
        {"scale_search",
         int_zero
             ? "k/2048 of the min-max scale, k = 1..2048"
             : "k/64 of the min-max scale, k = 1..64, then ±j/2048, j = 1..16, around the best"},
        {"weights", "diag(H) + percdamp·mean(diag H) of the solver's H, normalized per group"},
        {"fitted", "once on the target weight before the solve (groups static)"}};
  }
  j["solver"] = {{"percdamp", q.solver.percdamp},
                 {"blocksize", q.solver.blocksize},
                 {"act_order", q.solver.act_order},
                 {"static_groups", q.solver.static_groups}};
  if (q.method == Method::kGptaq) j["gptaq_alpha"] = q.gptaq_alpha;
  if (q.method == Method::kQronos) j["qronos_alpha"] = q.qronos_alpha;
  j["activations"] = {{"bits", q.act.bits}, {"clip", q.act.clip}};
  if (q.method == Method::kLoaq)
    j["loaq"] = {
        {"alpha", q.loaq.alpha}, {"beta", q.loaq.beta}, {"noa", q.loaq.noa}, {"soa", q.loaq.soa}};
  if (q.lowrank.enabled()) {
    const LowRankConfig& l = q.lowrank;
    j["lowrank"] = {{"rule", lowrank_rule_info(l.rule).name},
                    {"rank", l.rank},
                    {"first", l.first},
                    {"wbits", l.wbits},
                    {"abits", l.abits},
                    {"weighted", l.weighted},
                    {"steps", l.steps},
                    {"lr", l.lr},
                    {"patience", l.patience},
                    {"svd", svd_method_name(l.svd.method)},
                    {"oversample", l.svd.oversample},
                    {"power_iters", l.svd.power_iters},
                    {"seed", l.svd.seed},
                    {"describe", l.describe()}};
  }
  if (q.rotate) j["rotate"] = {{"mode", "hadamard"}, {"seed", q.rotate_seed}};
  j["streams"] = {{"dtype", q.stream_dtype == DType::BF16 ? "bf16" : "f32"},
                  {"chunk_samples", q.chunk_samples}};
  j["calibration"] = {
      {"nsamples", calib.nsamples}, {"seqlen", calib.seqlen}, {"source", calib.description}};
  return j;
}

}  // namespace loaq::cli
