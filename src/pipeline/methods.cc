#include "pipeline/methods.h"

#include <array>

#include "core/error.h"
#include "quant/gguf_grid.h"
#include "quant/gptq_factor.h"
#include "quant/loaq.h"
#include "quant/qronos.h"

namespace loaq {

namespace {

const double* or_null(const std::vector<double>& v) {
  return v.empty() ? nullptr : v.data();
}

// RTN: it reads the data only for a grid fitted by it (diag(H) of the quantized stream: NeUQI as
// the reference weights its grid, a GGUF grid as imatrix weights its blocks).
Solved solve_rtn(const Tensor& w, const Stats& st, const GridConfig& grid,
                 const QuantizeConfig& cfg) {
  return {rtn_quantize(w, grid, or_null(grid_weights(grid, st, cfg))), w};
}

// GPTQ (eq. 32): LDLQ on H = X̂ᵀX̂.
Solved solve_gptq(const Tensor& w, const Stats& st, const GridConfig& grid,
                  const QuantizeConfig& cfg) {
  const auto gw = grid_weights(grid, st, cfg);
  return {gptq_quantize(w, st.H, grid, cfg.solver, nullptr, or_null(gw)), w};
}

// GPTAQ: GPTQ with the asymmetric term P (its dXXT = Σ (X − X̂)ᵀ X̂ = Cᵀ).
Solved solve_gptaq(const Tensor& w, const Stats& st, const GridConfig& grid,
                   const QuantizeConfig& cfg) {
  MatD dxxt(st.C.cols, st.C.rows);
  for (int64_t i = 0; i < st.C.rows; ++i)
    for (int64_t j = 0; j < st.C.cols; ++j) dxxt(j, i) = st.C(i, j);
  const GptaqTerm term{&dxxt, cfg.gptaq_alpha};
  const auto gw = grid_weights(grid, st, cfg);
  return {gptq_quantize(w, st.H, grid, cfg.solver, &term, or_null(gw)), w};
}

// Qronos (brevitas): G = XᵀX̂ = H + Cᵀ.
Solved solve_qronos(const Tensor& w, const Stats& st, const GridConfig& grid,
                    const QuantizeConfig& cfg) {
  MatD g = st.H;
  for (int64_t i = 0; i < g.rows; ++i)
    for (int64_t j = 0; j < g.cols; ++j) g(i, j) += st.C(j, i);
  const auto gw = grid_weights(grid, st, cfg);
  return {
      qronos_quantize(w, st.H, g, grid,
                      {cfg.qronos_alpha, cfg.solver.act_order, cfg.solver.percdamp}, or_null(gw)),
      w};
}

// LoaQ: the target W̃ of eqs. 8/10/12, then GPTQ on it.
Solved solve_loaq(const Tensor& w, const Stats& st, const GridConfig& grid,
                  const QuantizeConfig& cfg) {
  // One factor of H for both the target and the solve.
  const GptqFactor factor = gptq_factor(st.H, cfg.solver);
  Tensor target = loaq_target(w, st.H, st.C, st.has_s ? &st.S : nullptr, cfg.loaq.alpha,
                              st.has_s ? cfg.loaq.beta : 0.0, factor);
  const auto gw = grid_weights(grid, st, cfg);
  QuantizedLinear q = gptq_quantize(target, st.H, factor, grid, cfg.solver, nullptr, or_null(gw));
  return {std::move(q), std::move(target)};
}

// clang-format off
constexpr std::array<MethodInfo, 6> kMethods = {{
  // method          name      data   w.grid fp     S      reset  brev.  solve
  {Method::kNone,   "none",   false, false, false, false, false, false, "unchanged", nullptr},
  {Method::kRtn,    "rtn",    false, true,  false, false, false, false, "round to nearest", solve_rtn},
  {Method::kGptq,   "gptq",   true,  true,  false, false, false, false, "GPTQ on W with H", solve_gptq},
  {Method::kGptaq,  "gptaq",  true,  true,  true,  false, false, false, "GPTQ with the asymmetric term αCᵀ", solve_gptaq},
  {Method::kQronos, "qronos", true,  true,  true,  false, true,  true,  "Qronos with G = H + Cᵀ", solve_qronos},
  {Method::kLoaq,   "loaq",   true,  true,  true,  true,  false, false, "GPTQ on W̃ (eqs. 8, 10, 12)", solve_loaq},
}};
// clang-format on

}  // namespace

std::span<const MethodInfo> all_methods() {
  return kMethods;
}

const MethodInfo& method_info(Method m) {
  for (const auto& i : kMethods)
    if (i.method == m) return i;
  fail("internal error: method {} is not in the table", int(m));
}

std::string method_name(Method m) {
  return std::string(method_info(m).name);
}

Method parse_method(const std::string& s) {
  std::string names;
  for (const auto& i : kMethods) {
    if (i.name == s) return i.method;
    names += (names.empty() ? "" : ", ") + std::string(i.name);
  }
  fail("--method '{}': choose one of {}", s, names);
}

bool method_needs_calibration(const QuantizeConfig& cfg) {
  const MethodInfo& m = method_info(cfg.method);
  const bool branch_data = cfg.lowrank.enabled() &&
                           (lowrank_needs_h(cfg.lowrank) || lowrank_needs_mean_abs_x(cfg.lowrank));
  return m.uses_data || (m.weighted_grid && cfg.grid.fit_weighted()) || branch_data;
}

std::vector<double> grid_weights(const GridConfig& grid, const Stats& st,
                                 const QuantizeConfig& cfg) {
  if (!grid.fit_weighted() || st.H.rows == 0) return {};
  if (grid.neuqi()) return neuqi_weights(st.H, cfg.solver.percdamp);
  return gguf_imatrix_weights(st.H, st.tokens);
}

GridConfig method_grid(const QuantizeConfig& cfg) {
  GridConfig g = cfg.grid;
  if (method_info(cfg.method).brevitas_grid && !g.sym && g.fit == GridFit::kMinMax && !g.is_gguf())
    g.flavor = GridFlavor::kBrevitas;  // the reference's grid
  return g;
}

GridConfig method_grid_for_linear(const QuantizeConfig& cfg, const std::string& linear,
                                  const ModelConfig& model) {
  if (cfg.gguf_file_type.empty()) return method_grid(cfg);
  return gguf_grid_for_linear(cfg.gguf_file_type, linear, model, cfg.grid.gguf_fit);
}

}  // namespace loaq
