// `loaq export --format gguf --imatrix FILE` against the real llama.cpp (scripts/install-llama-
// cpp.sh): llama-imatrix computes an importance matrix of loaq's F32 export from a short text (C4
// train documents, five chunks of 128 tokens) in both its formats (GGUF and the legacy .dat);
// `llama-quantize --imatrix FILE [--pure]` of the F32 export must then be byte-identical, tensor by
// tensor and with the same per-tensor types, to loaq's export with the same file: every block type
// pure and the Q4_0, Q2_K, Q3_K_M, Q4_K_M mixtures, with the quantize.imatrix.* metadata
// llama-quantize adds. On an 8-layer model the mixture rule that only an imatrix triggers (Q4_0 /
// Q5_0: the first eighth of ffn_down as Q4_1 / Q5_1) is checked the same way. Without the tools
// the tests skip, saying so.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "export/gguf_import.h"
#include "io/checkpoint.h"
#include "io/gguf.h"
#include "io/imatrix.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "llama_cpp_tools.h"
#include "model/model.h"
#include "model/weights.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;
using test::llama_work_dir;

// The first documents of the C4 train sample: about 1,200 tokens, enough for five chunks of 128.
std::string calibration_text() {
  const auto c4 = test::asset("data/c4/c4-train.00000-of-01024.first1041.jsonl");
  if (!c4) return "";
  const std::string path = (llama_work_dir() / "c4-train-head.txt").string();
  std::ifstream in(*c4);
  std::ofstream out(path);
  std::string line;
  for (int i = 0; i < 6 && std::getline(in, line); ++i)
    out << parse_json(line, *c4)["text"].get<std::string>() << "\n";
  return path;
}

struct Imatrices {
  std::string f32, gguf, dat;  // the F32 export and its imatrix in both formats
};

// The F32 export of `model_dir` and llama-imatrix's importance matrices of it.
Imatrices make_imatrices(const std::string& model_dir, const std::string& tag) {
  Imatrices m;
  m.f32 = test::loaq_export_gguf(model_dir, "F32", tag + "-F32.gguf", false);
  const std::string text = calibration_text();
  EXPECT_FALSE(text.empty()) << "the C4 sample is missing";
  m.gguf = (llama_work_dir() / (tag + ".imatrix.gguf")).string();
  m.dat = (llama_work_dir() / (tag + ".imatrix.dat")).string();
  for (const auto& [out, format] : {std::pair{m.gguf, "gguf"}, std::pair{m.dat, "dat"}}) {
    const auto r = test::run_llama_tool(
        "llama-imatrix", {"-m", m.f32, "-f", text, "-c", "128", "--chunks", "5", "--output-format",
                          format, "-o", out, "-t", "2"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  return m;
}

// The value of a string or integer metadata key as text ("" when absent).
std::string kv_text(const GgufHeader& h, const std::string& key) {
  const GgufValue* v = h.find(key);
  if (!v) return "";
  if (!v->strings.empty()) return v->strings[0];
  return v->ints.empty() ? "?" : std::to_string(v->ints[0]);
}

// Quantizes `m.f32` with llama-quantize and exports with loaq, both with each imatrix format, and
// compares. Returns loaq's file (of the GGUF imatrix).
std::string check_against_llama_quantize(const std::string& model_dir, const Imatrices& m,
                                         const std::string& type, bool pure,
                                         const std::string& tag) {
  std::string first;
  for (const std::string& im : {m.gguf, m.dat}) {
    SCOPED_TRACE(im);
    const std::string name = tag + "-" + type + (pure ? "-pure" : "") +
                             (im == m.gguf ? "-gguf-imatrix" : "-dat-imatrix");
    const std::string theirs = (llama_work_dir() / (name + "-llama.gguf")).string();
    std::vector<std::string> args = {"--imatrix", im, m.f32, theirs, type, "1"};
    if (pure) args.insert(args.begin(), "--pure");
    const auto r = test::run_llama_tool("llama-quantize", args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    if (r.exit_code != 0) return "";
    const std::string ours = test::loaq_export_gguf(model_dir, type, name + "-ours.gguf", pure, im);
    EXPECT_GT(test::expect_same_tensors(ours, theirs), 0);
    const GgufFile a(ours), b(theirs);
    for (const char* key : {"quantize.imatrix.file", "quantize.imatrix.dataset",
                            "quantize.imatrix.entries_count", "quantize.imatrix.chunks_count"}) {
      EXPECT_NE(kv_text(b.header(), key), "") << key;
      EXPECT_EQ(kv_text(a.header(), key), kv_text(b.header(), key)) << key;
    }
    if (first.empty()) first = ours;
  }
  return first;
}

// The number of tensors whose bytes differ between two exports of the same model.
int differing_tensors(const std::string& a_path, const std::string& b_path) {
  const GgufFile a(a_path), b(b_path);
  int n = 0;
  for (const auto& ta : a.header().tensors) {
    const auto* tb = b.header().tensor(ta.name);
    const auto da = a.data(ta), db = b.data(*tb);
    n += !std::equal(da.begin(), da.end(), db.begin(), db.end());
  }
  return n;
}

struct Case {
  const char* model;
  const char* type;
  bool pure;
};

class GgufImatrixRoundTrip : public testing::TestWithParam<Case> {};

TEST_P(GgufImatrixRoundTrip, BytesEqualLlamaQuantizeImatrix) {
  LOAQ_REQUIRE_LLAMA_CPP();
  const auto& p = GetParam();
  LOAQ_REQUIRE_ASSET(dir, std::string("models/") + p.model);
  const Imatrices m = make_imatrices(dir, p.model);
  {
    const Imatrix a = read_imatrix(m.gguf), b = read_imatrix(m.dat);
    EXPECT_FALSE(a.legacy);
    EXPECT_TRUE(b.legacy);
    EXPECT_EQ(a.entries.size(), b.entries.size());
    // Five chunks: the sums are divided by 640 tokens or 5 calls, not a power of two, which
    // would scale every weight exactly and so hide a wrong division.
    EXPECT_EQ(a.chunk_count, 5);
    EXPECT_EQ(b.chunk_count, 5);
  }
  const std::string ours = check_against_llama_quantize(dir, m, p.type, p.pure, p.model);
  ASSERT_FALSE(ours.empty());
  // The imatrix changed the rounding (a comparison that would pass with the reference quantizer
  // alone would prove nothing): for every type but Q8_0, which ignores it.
  const std::string plain =
      test::loaq_export_gguf(dir, p.type, std::string(p.model) + "-plain.gguf", p.pure);
  if (std::string(p.type) == "Q8_0") {
    EXPECT_EQ(differing_tensors(ours, plain), 0);
  } else {
    EXPECT_GT(differing_tensors(ours, plain), 0);
  }
}

std::string case_name(const testing::TestParamInfo<Case>& i) {
  std::string s = std::string(i.param.model) + "_" + i.param.type + (i.param.pure ? "_pure" : "");
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  // Pure, every block type (Q3_K_S: Q3_K, Q4_K_S: Q4_K, Q5_K_S: Q5_K).
  for (const char* t :
       {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q4_K_S", "Q5_K_S", "Q6_K"})
    v.push_back({"llama-mini-7m", t, true});
  for (const char* m : {"llama-mini-7m", "qwen3-tiny"})  // qwen3-tiny: rows of 128, fallbacks
    for (const char* t : {"Q4_0", "Q2_K", "Q3_K_M", "Q4_K_M"}) v.push_back({m, t, false});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Models, GgufImatrixRoundTrip, testing::ValuesIn(cases()), case_name);

// llama-mini-7m grown to 8 layers (layers 6 and 7 copies of 0 and 1), in the work folder:
// the smallest model on which the imatrix mixture rule of the first eighth of ffn_down fires.
std::string eight_layer_model(const std::string& base) {
  const fs::path dir = llama_work_dir() / "mini-8-layers";
  if (fs::exists(dir / "model.safetensors")) return dir.string();
  fs::create_directories(dir);
  auto cfg = read_json_file(base + "/config.json");
  const int64_t n = cfg["num_hidden_layers"].get<int64_t>();
  EXPECT_LT(n, 8);
  cfg["num_hidden_layers"] = 8;
  std::ofstream(dir / "config.json") << cfg.dump(2);
  for (const auto& e : fs::directory_iterator(base)) {
    const std::string f = e.path().filename().string();
    if (f.rfind("tokenizer", 0) == 0 || f == "special_tokens_map.json")
      fs::copy_file(e.path(), dir / f, fs::copy_options::overwrite_existing);
  }
  const Checkpoint ck(base);
  std::vector<Tensor> keep;
  std::vector<TensorToWrite> tensors;
  keep.reserve(ck.tensor_names().size() * 2);
  for (const auto& name : ck.tensor_names()) {
    keep.push_back(ck.load_f32(name));
    tensors.push_back(f32_entry(name, keep.back()));
    const std::string p = "model.layers.";
    if (name.rfind(p, 0) != 0) continue;
    const size_t dot = name.find('.', p.size());
    const int64_t l = std::stoll(name.substr(p.size(), dot - p.size()));
    if (l + n < 8) {  // layer l also serves as layer l + n
      keep.push_back(keep.back());
      tensors.push_back(f32_entry(p + std::to_string(l + n) + name.substr(dot), keep.back()));
    }
  }
  write_safetensors((dir / "model.safetensors").string(), tensors);
  return dir.string();
}

// With an imatrix, llama-quantize's Q4_0 and Q5_0 mixtures give the first eighth of ffn_down
// (layer 0 of 8) Q4_1 / Q5_1; loaq's mixture does the same.
TEST(GgufImatrixMixture, FirstFfnDownOfEightLayers) {
  LOAQ_REQUIRE_LLAMA_CPP();
  LOAQ_REQUIRE_ASSET(base, "models/llama-mini-7m");
  const fs::path dir = eight_layer_model(base);
  const Imatrices m = make_imatrices(dir.string(), "mini8");
  for (const auto& [type, down0] : {std::pair{"Q4_0", GgmlType::Q4_1}, {"Q5_0", GgmlType::Q5_1}}) {
    SCOPED_TRACE(type);
    const std::string ours = check_against_llama_quantize(dir.string(), m, type, false, "mini8");
    ASSERT_FALSE(ours.empty());
    const GgufFile f(ours);
    ASSERT_NE(f.header().tensor("blk.0.ffn_down.weight"), nullptr);
    EXPECT_EQ(f.header().tensor("blk.0.ffn_down.weight")->type, down0);
    EXPECT_EQ(f.header().tensor("blk.1.ffn_down.weight")->type, ggml_type_by_name(type)->type);
  }
}

// `loaq quantize --grid gguf:TYPE` fits its block grids weighted by the calibration's
// diag(H) / tokens (--gguf-fit imatrix, the default: RTN then reads calibration) or as llama.cpp's
// reference quantizer does (--gguf-fit unweighted: RTN reads none). report.json records the fit
// and the export recovers each linear's grid from it: on 8 layers, gguf:Q4_0 solves the first
// ffn_down on Q4_1 with the imatrix fit (llama-quantize's imatrix mixture), on Q4_0 without, and
// the GGUF holds exactly the run's weights either way. No llama.cpp needed.
TEST(GgufImatrixSolver, FitRecordedAndRecoveredByTheExport) {
  LOAQ_REQUIRE_ASSET(base, "models/llama-mini-7m");
  const std::string dir = eight_layer_model(base);
  std::map<std::string, std::vector<float>> first_q;
  for (const char* fit : {"imatrix", "unweighted"}) {
    SCOPED_TRACE(fit);
    const std::string run = (llama_work_dir() / (std::string("rtn-") + fit)).string();
    auto r =
        test::run_loaq({"quantize", "-q", "--model", dir, "--method", "rtn", "--grid", "gguf:Q4_0",
                        "--gguf-fit", fit, "--nsamples", "2", "--seqlen", "32", "--out", run});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto report = read_json_file(run + "/report.json");
    EXPECT_EQ(report["settings"]["grid"]["gguf_fit"], fit);
    EXPECT_EQ(report["settings"]["calibration"]["nsamples"].get<int64_t>(),
              std::string(fit) == "imatrix" ? 2 : 0);
    const std::string g = run + ".gguf";
    r = test::run_loaq({"export", "--format", "gguf", "--type", "Q4_0", "--out", g, run});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const GgufFile f(g);
    EXPECT_EQ(f.header().tensor("blk.0.ffn_down.weight")->type,
              std::string(fit) == "imatrix" ? GgmlType::Q4_1 : GgmlType::Q4_0);
    EXPECT_EQ(f.header().tensor("blk.1.ffn_down.weight")->type, GgmlType::Q4_0);
    test::expect_gguf_holds_run(g, run, [&](int64_t i, LinearName n, const Tensor& w) {
      if (n == LinearName::kUp) first_q[fit + std::to_string(i)] = w.data;
    });
  }
  // The fit changed the grid (Q4_0's up_proj, the same type in both runs).
  EXPECT_NE(first_q["imatrix3"], first_q["unweighted3"]);
  // --gguf-fit is for GGUF grids.
  const auto r = test::run_loaq({"quantize", "-q", "--model", base, "--method", "rtn", "--gguf-fit",
                                 "imatrix", "--out", (llama_work_dir() / "no-gguf").string()});
  EXPECT_TRUE(r.clean_failure() && r.has("--gguf-fit")) << r.output;
}

// A bad --imatrix is a clear error naming the file, exit status 1 (no llama.cpp needed).
TEST(GgufImatrixCli, BadImatrixIsAnError) {
  LOAQ_REQUIRE_ASSET(dir, "models/llama-mini-7m");
  const std::string out = (llama_work_dir() / "bad-imatrix.gguf").string();
  auto run = [&](const std::string& im, const std::string& type = "Q4_K_M") {
    return test::run_loaq(
        {"export", "--format", "gguf", "--type", type, "--imatrix", im, "--out", out, dir});
  };
  // An entry whose length is not the tensor's row (an imatrix of another model).
  const std::string wrong = (llama_work_dir() / "wrong.dat").string();
  {
    std::ofstream f(wrong, std::ios::binary);
    auto i32 = [&](int32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
    const std::string name = "blk.0.attn_q.weight";
    i32(1);
    i32(int32_t(name.size()));
    f << name;
    i32(1);
    i32(7);
    const float v[7] = {1, 1, 1, 1, 1, 1, 1};
    f.write(reinterpret_cast<const char*>(v), sizeof v);
  }
  auto r = run(wrong);
  EXPECT_TRUE(r.clean_failure()) << r.output;
  EXPECT_TRUE(r.has(wrong) && r.has("blk.0.attn_q.weight has 7 values")) << r.output;
  EXPECT_FALSE(fs::exists(out));
  const std::string junk = (llama_work_dir() / "junk.imatrix").string();
  std::ofstream(junk) << "not an imatrix";
  r = run(junk);
  EXPECT_TRUE(r.clean_failure() && r.has(junk)) << r.output;
  r = run((llama_work_dir() / "missing.imatrix").string());
  EXPECT_TRUE(r.clean_failure() && r.has("missing.imatrix")) << r.output;
  r = run(wrong, "F16");
  EXPECT_TRUE(r.clean_failure() && r.has("--imatrix applies to a quantized --type")) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace loaq
