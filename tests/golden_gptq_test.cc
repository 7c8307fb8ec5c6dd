// Layer solvers against the outputs of the original GPTQ (IST-DASLab), GPTAQ and QuaRot code on the
// seeded layer problems of shared/golden/gptq (its README): fraction of identical integer codes and
// relative difference of the layer objective ‖X̂Qᵀ − XWᵀ‖², per case, with the README's tolerances.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "core/linalg.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "quant/qronos.h"
#include "quant/solver.h"
#include "test_assets.h"

namespace loaq {
namespace {

struct Problem {
  Tensor W, X, Xq;
  MatD H, dXXT, G;  // G = XᵀX̂ (Qronos)
};

const Problem& problem(const std::string& dir, const std::string& name) {
  static std::map<std::string, Problem> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const SafetensorsFile f(dir + "/" + name + ".safetensors");
  Problem p{f.read_f32("W"), f.read_f32("X"), f.read_f32("Xq"), {}, {}, {}};
  const int64_t T = p.X.rows(), N = p.X.cols();
  p.H = MatD(N, N);
  add_gram(p.H, p.Xq.ptr(), T, N);
  Tensor dX = p.X;
  for (size_t i = 0; i < dX.data.size(); ++i) dX.data[i] -= p.Xq.data[i];
  p.dXXT = MatD(N, N);
  add_cross(p.dXXT, dX.ptr(), p.Xq.ptr(), T, N, N);  // dXXT[j,k] = Σ (X − X̂)[t,j] X̂[t,k]
  p.G = MatD(N, N);
  add_cross(p.G, p.X.ptr(), p.Xq.ptr(), T, N, N);
  return cache.emplace(name, std::move(p)).first->second;
}

// ‖X̂ Qᵀ − X Wᵀ‖²_F in double.
double objective_full(const Problem& p, const Tensor& q) {
  const int64_t T = p.X.rows(), N = p.X.cols(), M = p.W.rows();
  double s = 0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t m = 0; m < M; ++m) {
      double a = 0;
      for (int64_t n = 0; n < N; ++n)
        a += double(p.Xq.data[size_t(t * N + n)]) * q.data[size_t(m * N + n)] -
             double(p.X.data[size_t(t * N + n)]) * p.W.data[size_t(m * N + n)];
      s += a * a;
    }
  return s;
}

std::vector<nlohmann::json> cases_of(std::initializer_list<std::string> methods) {
  const auto idx = test::asset("golden/gptq/index.json");
  if (!idx) return {nlohmann::json{{"id", "missing"}}};
  std::vector<nlohmann::json> out;
  const auto j = read_json_file(*idx);
  for (const auto& c : j.at("cases"))
    for (const auto& m : methods)
      if (c.at("method") == m) out.push_back(c);
  return out;
}

std::string case_name(const ::testing::TestParamInfo<nlohmann::json>& info) {
  std::string s = info.param.at("id").get<std::string>();
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

class GoldenSolver : public ::testing::TestWithParam<nlohmann::json> {};

TEST_P(GoldenSolver, MatchesReference) {
  LOAQ_REQUIRE_ASSET(dir, "golden/gptq");
  const auto& c = GetParam();
  const auto& cfg = c.at("config");
  const std::string method = c.at("method");
  const Problem& p = problem(dir, c.at("problem"));
  const SafetensorsFile gold(dir + "/" + c.at("file").get<std::string>());

  GridConfig grid;
  grid.bits = cfg.at("bits");
  grid.group = cfg.at("groupsize");
  grid.sym = cfg.value("sym", false);
  grid.fit = cfg.value("mse", false) ? GridFit::kMse : GridFit::kMinMax;
  grid.flavor = (method == "gptq" || method == "rtn") ? GridFlavor::kGptq : GridFlavor::kQuarot;
  if (method == "qronos" || method == "rtn_brevitas") {
    grid.flavor = GridFlavor::kBrevitas;
    grid.real_zero = cfg.at("grid") == "float_zero";
  }
  QuantizedLinear r;
  if (method == "qronos") {
    QronosConfig qc;
    qc.alpha = cfg.at("alpha");
    qc.act_order = cfg.at("act_order");
    r = qronos_quantize(p.W, p.H, p.G, grid, qc);
  } else if (method.rfind("rtn", 0) == 0) {
    r = rtn_quantize(p.W, grid);
  } else {
    SolverConfig sc;
    sc.percdamp = cfg.at("percdamp");
    sc.blocksize = cfg.at("blocksize");
    sc.act_order = cfg.at("act_order");
    sc.static_groups = cfg.at("static_groups");
    GptaqTerm term{&p.dXXT, cfg.value("alpha", 0.25)};
    r = gptq_quantize(p.W, p.H, grid, sc, method == "gptaq" ? &term : nullptr);
  }
  const Tensor codes = gold.read_f32("codes");
  int64_t same = 0;
  for (size_t i = 0; i < r.codes.size(); ++i) same += r.codes[i] == int32_t(codes.data[i]);
  const double agree = double(same) / double(r.codes.size());
  const double ours = objective_full(p, r.q), want = c.at("objective").at("full");
  const double rel = std::abs(ours - want) / want;
  const auto index = read_json_file(dir + "/index.json");
  const auto& tol = index.at("suggested_tolerance").at(method);
  EXPECT_GE(agree, tol.at("min_code_agreement").get<double>()) << c.at("id");
  EXPECT_LE(rel, tol.at("max_rel_objective_diff").get<double>()) << c.at("id");
  if (!(cfg.value("act_order", false) && grid.group > 0)) {
    const Tensor gs = gold.read_f32("scale");
    double max_rel = 0;
    for (size_t i = 0; i < gs.data.size(); ++i)
      max_rel = std::max(
          max_rel, std::abs(double(r.scale.data[i]) - gs.data[i]) / std::abs(double(gs.data[i])));
    if (grid.fit != GridFit::kMse) {
      EXPECT_LE(max_rel, 1e-5) << "scale of " << c.at("id");  // README: "about 1e-6"
    }
  }
  std::printf("[golden solver] %-48s codes %.4f  objective rel diff %.2e\n",
              c.at("id").get<std::string>().c_str(), agree, rel);
}

INSTANTIATE_TEST_SUITE_P(Gptq, GoldenSolver, ::testing::ValuesIn(cases_of({"gptq", "gptq_quarot"})), case_name);
INSTANTIATE_TEST_SUITE_P(Gptaq, GoldenSolver, ::testing::ValuesIn(cases_of({"gptaq"})), case_name);
INSTANTIATE_TEST_SUITE_P(Rtn, GoldenSolver, ::testing::ValuesIn(cases_of({"rtn", "rtn_quarot", "rtn_brevitas"})),
                         case_name);
INSTANTIATE_TEST_SUITE_P(Qronos, GoldenSolver, ::testing::ValuesIn(cases_of({"qronos"})), case_name);

}  // namespace
}  // namespace loaq

namespace loaq {
namespace {

// The same goldens through the command line (`loaq layer`), one case per reference.
TEST(GoldenLayerCli, MatchesReference) {
  LOAQ_REQUIRE_ASSET(dir, "golden/gptq");
  struct Case {
    std::string id, args;
  };
  const std::vector<Case> cases = {
      {"p2_m128_n128__gptq__w3_pc_act_bs128_asym", "--method gptq --wbits 3 --act-order"},
      {"p1_m96_n64__gptaq__w4_g32_noact_bs16_asym", "--method gptaq --wbits 4 --group 32 --blocksize 16 --grid-flavor quarot"},
      {"p3_m256_n96__qronos__w3_pc_act_asym_float_zero", "--method qronos --wbits 3 --act-order --grid-flavor brevitas --real-zero"},
  };
  for (const auto& c : cases) {
    const std::string problem = dir + "/" + c.id.substr(0, c.id.find("__")) + ".safetensors";
    const std::string out = (std::filesystem::temp_directory_path() / ("loaq_layer_" + c.id + ".safetensors")).string();
    const std::string cmd = std::string(LOAQ_BINARY) + " layer --problem " + problem + " " + c.args + " --out " + out + " > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const SafetensorsFile ours(out), gold(dir + "/cases/" + c.id + ".safetensors");
    const Tensor a = ours.read_f32("codes"), b = gold.read_f32("codes");
    ASSERT_EQ(a.shape, b.shape);
    int64_t same = 0;
    for (size_t i = 0; i < a.data.size(); ++i) same += a.data[i] == b.data[i];
    EXPECT_GE(double(same) / double(a.numel()), c.id.find("qronos") != std::string::npos ? 0.97 : 0.99) << c.id;
    std::filesystem::remove(out);
  }
}

}  // namespace
}  // namespace loaq
