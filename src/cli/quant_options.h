#pragma once
// Options shared by the commands that quantize (`quantize`, `sweep`): method, grid, solver,
// method parameters and calibration.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/quantize.h"
#include "text/calibration.h"

namespace loaq::cli {

struct QuantArgs {
  std::string method = "gptq";
  int wbits = 3;
  int64_t group = -1;
  std::string grid = "minmax";  // minmax | mse | neuqi | neuqi-int | gguf:TYPE
  std::string gguf_fit;         // gguf grids: imatrix (the default) | unweighted
  bool sym = false, mse = false, act_order = false, static_groups = false;  // --mse: --grid mse
  double percdamp = 0.01;
  int64_t blocksize = 128;
  double alpha = LoaqParams{}.alpha, beta = LoaqParams{}.beta;
  bool no_noa = false, no_soa = false;
  double gptaq_alpha = 0.25, qronos_alpha = 1e-6;
  std::string calib = "c4", calib_ids;
  int64_t nsamples = 128, seqlen = 0;  // 0: min(2048, the model's context)
  uint64_t seed = 0;
  int abits = 16;
  double a_clip = 1.0;
  std::string rotate = "none";  // none | hadamard
  uint64_t rotate_seed = 0;
  std::string stream_dtype = "f32";  // f32 | bf16
  int64_t chunk_samples = 8;
  std::string cache_bytes = "4GiB";
  // The low-rank branch (quant/lowrank.h LowRankConfig)
  std::string lowrank = "none";  // none | svd | lqer | qera | loaq
  int64_t rank = LowRankConfig{}.rank;
  bool lowrank_first = false, lowrank_weighted = false;
  std::string lowrank_bits = "16,16";
  int lowrank_steps = LowRankConfig{}.steps, lowrank_patience = LowRankConfig{}.patience;
  double lowrank_lr = LowRankConfig{}.lr;
  std::string lowrank_svd = "auto";
  uint64_t lowrank_seed = 0;
};

// Registers the options on `cmd`. `with_method`: add --method / --wbits (sweep has lists instead).
void add_quant_options(CLI::App* cmd, QuantArgs& a, bool with_method = true);

// The pipeline configuration for method `method` at `wbits` (validated).
QuantizeConfig to_quantize_config(const QuantArgs& a, const std::string& method, int wbits,
                                  bool progress);
CalibConfig to_calib_config(const QuantArgs& a, int64_t model_context);

// The rotation a run applied (mode, seed, the transforms, untied head, fallback sizes), for
// reports.
nlohmann::ordered_json rotation_json(const RotationReport& r);
// The settings as JSON, for reports.
nlohmann::ordered_json quant_settings_json(const QuantizeConfig& q, const CalibSet& calib);

}  // namespace loaq::cli
