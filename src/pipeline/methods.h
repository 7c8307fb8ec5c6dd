#pragma once
// The methods, described once (DESIGN.md "Variants are data"): what each needs from the
// calibration pass and how it turns a linear's weight and statistics into codes. The layer-wise
// driver and `loaq layer` read this table; a new method is a row. A low-rank branch composes with
// every method, so it is a step after the solve, not a row here.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/model_config.h"
#include "pipeline/config.h"
#include "pipeline/stats.h"
#include "quant/solver.h"

namespace loaq {

struct Solved {
  QuantizedLinear q;
  Tensor target;  // W̃: the weight the solver approximated (W itself but for LoaQ)
};

struct MethodInfo {
  Method method;
  std::string_view name;
  // The solve needs calibration activations (H).
  bool uses_data;
  // Reads the statistics for a grid whose fit is weighted by them (grid.fit_weighted(): NeUQI,
  // a GGUF imatrix fit), even where the solve itself needs none (RTN).
  bool weighted_grid;
  bool fp_stream;        // carries the full-precision stream X, and C = X̂ᵀ(X − X̂)
  bool sublayer_term;    // W_out also gets S = X̂ᵀ(h − ĥ) and NOA's RMS rescaling (eqs. 10–12)
  bool reset_fp_stream;  // the FP stream restarts from the quantized one at each layer
  bool brevitas_grid;    // an asymmetric min-max grid is the reference's (brevitas) flavor
  std::string_view solve_desc;
  // W [out, in] and its group's statistics → codes on `grid`. Null for `none`.
  Solved (*solve)(const Tensor& w, const Stats& st, const GridConfig& grid,
                  const QuantizeConfig& cfg);
};

std::span<const MethodInfo> all_methods();
const MethodInfo& method_info(Method m);
std::string method_name(Method m);
// Parses none|rtn|gptq|gptaq|qronos|loaq; throws naming the valid choices.
Method parse_method(const std::string& s);
// Whether the run (method and grid) uses calibration data.
bool method_needs_calibration(const QuantizeConfig& cfg);
// The column weights that `grid`'s fit takes from a linear's statistics: NeUQI's
// neuqi_weights(H, percdamp), a GGUF imatrix fit's diag(H) / tokens (gguf_imatrix_weights);
// empty for a grid whose fit takes none, or without statistics.
std::vector<double> grid_weights(const GridConfig& grid, const Stats& st,
                                 const QuantizeConfig& cfg);
// The grid the driver gives the method's solver (the reference's flavor where the table says so).
GridConfig method_grid(const QuantizeConfig& cfg);
// The grid of one linear ("model.layers.3.self_attn.v_proj") of `model`: with --grid gguf:TYPE
// (cfg.gguf_file_type) the block grid llama-quantize's mixture gives that tensor
// (quant/gguf_grid.h), else method_grid(cfg).
GridConfig method_grid_for_linear(const QuantizeConfig& cfg, const std::string& linear,
                                  const ModelConfig& model);

}  // namespace loaq
