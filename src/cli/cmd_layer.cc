// `loaq layer`: quantize one linear layer given as tensors, in the layout of
// shared/golden/gptq: W [out, in], X [T, in] (full-precision inputs) and optionally Xq [T, in]
// (quantized-stream inputs; default X), or H [in, in] directly (then only GPTQ / RTN). For LoaQ's
// sub-layer term, h and hq [T, out] (residual inputs of both streams) may be given as well.
// Writes Q, codes, scale, zero, g_idx, perm and prints the objectives as JSON.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/quant_options.h"
#include "core/env.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "pipeline/methods.h"
#include "quant/solver.h"

namespace loaq::cli {

namespace {

struct LayerArgs {
  std::string problem, out, flavor = "gptq";
  bool real_zero = false;
  int threads = 0;
  QuantArgs q;
};

double frob2(const MatD& a) {
  double s = 0;
  for (double v : a.data) s += v * v;
  return s;
}

MatD to_d(const Tensor& t) {
  MatD m(t.rows(), t.cols());
  for (size_t i = 0; i < t.data.size(); ++i) m.data[i] = t.data[i];
  return m;
}

int run_layer(const LayerArgs& a) {
  set_num_threads(a.threads);
  const SafetensorsFile f(a.problem);
  const Tensor W = f.read_f32("W");
  if (W.ndim() != 2) fail("{}: W must be [out, in], got {}", a.problem, shape_str(W.shape));
  const int64_t M = W.rows(), N = W.cols();
  QuantizeConfig qc = to_quantize_config(a.q, a.q.method, a.q.wbits, false);
  if (a.flavor == "gptq") {
    qc.grid.flavor = GridFlavor::kGptq;
  } else if (a.flavor == "quarot") {
    qc.grid.flavor = GridFlavor::kQuarot;
  } else if (a.flavor == "brevitas") {
    qc.grid.flavor = GridFlavor::kBrevitas;
  } else {
    fail("--grid-flavor '{}': choose gptq, quarot or brevitas", a.flavor);
  }
  qc.grid.real_zero = a.real_zero;
  validate(qc.grid);

  Tensor X, Xq;
  MatD H(N, N), C(N, N);
  const bool has_x = f.find("X") != nullptr;
  if (has_x) {
    X = f.read_f32("X");
    Xq = f.find("Xq") ? f.read_f32("Xq") : X;
    if (X.ndim() != 2 || X.cols() != N || Xq.shape != X.shape)
      fail("{}: X and Xq must be [T, {}] (W has {} inputs)", a.problem, N, N);
    add_gram(H, Xq.ptr(), Xq.rows(), N);
    Tensor dX = X;
    for (size_t i = 0; i < dX.data.size(); ++i) dX.data[i] -= Xq.data[i];
    add_cross(C, Xq.ptr(), dX.ptr(), X.rows(), N, N);
  } else if (f.find("H")) {
    const Tensor h = f.read_f32("H");
    if (h.ndim() != 2 || h.rows() != N || h.cols() != N) fail("{}: H must be [{}, {}]", a.problem, N, N);
    H = to_d(h);
    if (qc.method != Method::kGptq && qc.method != Method::kRtn)
      fail("{}: method {} needs the inputs X (and Xq), not only H", a.problem,
           method_name(qc.method));
  } else if (qc.method != Method::kRtn || qc.grid.neuqi()) {
    fail("{}: no tensor 'X' or 'H'{}", a.problem,
         qc.grid.neuqi() ? " (a NeUQI grid is weighted by diag H)" : "");
  }

  // The statistics the method's row of the table asks for, then its solve.
  const MethodInfo& info = method_info(qc.method);
  Stats st;
  st.H = std::move(H);
  if (info.fp_stream) {
    st.C = std::move(C);
    st.has_c = true;
  }
  if (info.sublayer_term && qc.loaq.soa && f.find("h") && f.find("hq")) {
    const Tensor h = f.read_f32("h"), hq = f.read_f32("hq");
    if (h.shape != std::vector<int64_t>{X.rows(), M} || hq.shape != h.shape)
      fail("{}: h and hq must be [T, {}]", a.problem, M);
    Tensor dh = h;
    for (size_t i = 0; i < dh.data.size(); ++i) dh.data[i] -= hq.data[i];
    st.S = MatD(N, M);
    add_cross(st.S, Xq.ptr(), dh.ptr(), X.rows(), N, M);
    st.has_s = true;
  }
  QuantizedLinear r;
  Tensor target = W;
  const auto t_solve = std::chrono::steady_clock::now();
  if (info.solve) {
    Solved sv = info.solve(W, st, qc.grid, qc);
    r = std::move(sv.q);
    target = std::move(sv.target);
  } else {
    r.q = W;
  }

  const double solve_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_solve).count();
  nlohmann::ordered_json j;
  j["problem"] = a.problem;
  j["method"] = method_name(qc.method);
  j["grid"] = qc.grid.describe();
  j["damp"] = r.damp;
  j["solve_seconds"] = solve_seconds;  // the method's solve (and target), without file reading
  if (has_x) {  // objectives as shared/golden/gptq/index.json defines them, in double
    const MatD Xd = to_d(X), Xqd = to_d(Xq), Wd = to_d(W), Qd = to_d(r.q);
    const MatD ref = matmul(Xd, false, Wd, true);
    MatD full = matmul(Xqd, false, Qd, true), qonly = full;
    const MatD xqw = matmul(Xqd, false, Wd, true);
    for (size_t i = 0; i < full.data.size(); ++i) {
      full.data[i] -= ref.data[i];
      qonly.data[i] -= xqw.data[i];
    }
    j["objective"] = {{"full", frob2(full)}, {"qonly", frob2(qonly)}, {"ref", frob2(ref)},
                      {"rel_full", frob2(full) / frob2(ref)}};
  }
  fmt::print("{}\n", j.dump(2));
  if (!a.out.empty()) {
    std::vector<TensorToWrite> t;
    t.push_back(f32_entry("Q", r.q));
    if (!r.codes.empty()) {
      t.push_back({"codes", DType::I32, r.q.shape, std::as_bytes(std::span(r.codes))});
      t.push_back(f32_entry("scale", r.scale));
      t.push_back(f32_entry("zero", r.zero));
      t.push_back({"g_idx", DType::I32, {int64_t(r.g_idx.size())}, std::as_bytes(std::span(r.g_idx))});
      t.push_back({"perm", DType::I32, {int64_t(r.perm.size())}, std::as_bytes(std::span(r.perm))});
    }
    write_safetensors(a.out, std::move(t), {{"report", j.dump()}});
  }
  return 0;
}

}  // namespace

Runner add_layer(CLI::App& app) {
  auto a = std::make_shared<LayerArgs>();
  auto* cmd = app.add_subcommand("layer", "Quantize a single linear layer given as tensors (W, X, Xq or H)");
  cmd->add_option("--problem", a->problem, "safetensors with W [out,in] and X/Xq [T,in] or H [in,in]")->required();
  cmd->add_option("--out", a->out, "Write Q, codes, scale, zero, g_idx, perm here");
  cmd->add_option("--grid-flavor", a->flavor, "Grid of which reference: gptq, quarot or brevitas")->capture_default_str();
  cmd->add_flag("--real-zero", a->real_zero, "Real-valued zero point");
  cmd->add_option("--threads", a->threads, "Threads (default: all cores)");
  add_quant_options(cmd, a->q);
  return [a] { return run_layer(*a); };
}

}  // namespace loaq::cli
