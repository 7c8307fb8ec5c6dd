// Export (issue 7): GPTQ checkpoints checked with an independent unpacker written here from the
// format's definition (AutoGPTQ qlinear_cuda.py forward(): shifts, masks, the 3-bit word table and
// zero + 1), fake-quantized HF checkpoints reproducing the quantize run's perplexity bit for bit,
// `loaq inspect`, and the refusals.
#include "export/export.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/dtype.h"
#include "core/error.h"
#include "export/inspect.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "pipeline/output.h"
#include "pipeline/quantize.h"
#include "test_assets.h"
#include "text/calibration.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path p;
  explicit TempDir(const std::string& tag)
      : p(fs::temp_directory_path() / ("loaq_export_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(p);
    fs::create_directories(p);
  }
  ~TempDir() { fs::remove_all(p); }
};

int run(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string s;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) s.append(buf, n);
  const int st = pclose(p);
  if (out) *out = s;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

// --- the independent unpacker --------------------------------------------------------------
// Value k of a 32-value run, from the run's words (b = 2, 4, 8: k / (32/b)-th word, shift
// b·(k mod 32/b); b = 3: AutoGPTQ's three-word table with values 10 and 21 split).
uint32_t unpack_value(const uint32_t* w, int k, int bits) {
  if (bits != 3) {
    const int per = 32 / bits;
    return (w[k / per] >> (bits * (k % per))) & ((1u << bits) - 1);
  }
  if (k < 10) return (w[0] >> (3 * k)) & 7;
  if (k == 10) return ((w[0] >> 30) & 3) | ((w[1] << 2) & 4);
  if (k < 21) return (w[1] >> (3 * (k - 11) + 1)) & 7;
  if (k == 21) return ((w[1] >> 31) & 1) | ((w[2] << 1) & 6);
  return (w[2] >> (3 * (k - 22) + 2)) & 7;
}

template <class T>
std::vector<T> raw(const SafetensorsFile& f, const std::string& name, DType dt) {
  const TensorInfo* t = f.find(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t) return {};
  EXPECT_EQ(t->dtype, dt) << name;
  const auto b = f.bytes(*t);
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

struct Unpacked {
  int64_t in = 0, out = 0, groups = 0;
  std::vector<uint32_t> q;  // [in, out]
  std::vector<int32_t> z;   // [G, out], zero + 1 applied
  std::vector<float> s;     // [G, out]
  std::vector<int32_t> g_idx;
};

Unpacked unpack_linear(const SafetensorsFile& f, const std::string& base, int bits) {
  Unpacked u;
  const TensorInfo* qi = f.find(base + ".qweight");
  EXPECT_NE(qi, nullptr) << base;
  if (!qi) return u;
  u.in = qi->shape[0] * 32 / bits;
  u.out = qi->shape[1];
  const auto qw = raw<uint32_t>(f, base + ".qweight", DType::I32);
  const auto qz = raw<uint32_t>(f, base + ".qzeros", DType::I32);
  const auto sc = raw<uint16_t>(f, base + ".scales", DType::F16);
  u.g_idx = raw<int32_t>(f, base + ".g_idx", DType::I32);
  u.groups = int64_t(sc.size()) / u.out;
  const int64_t wpr = bits;  // words per run of 32 values
  u.q.resize(size_t(u.in * u.out));
  for (int64_t c = 0; c < u.in; ++c)
    for (int64_t o = 0; o < u.out; ++o) {
      uint32_t w[8];  // the words of c's run in column o
      for (int i = 0; i < bits; ++i) w[i] = qw[size_t(((c / 32) * wpr + i) * u.out + o)];
      u.q[size_t(c * u.out + o)] = unpack_value(w, int(c % 32), bits);
    }
  const int64_t zcols = u.out / 32 * bits;
  u.z.resize(size_t(u.groups * u.out));
  u.s.resize(size_t(u.groups * u.out));
  for (int64_t g = 0; g < u.groups; ++g)
    for (int64_t o = 0; o < u.out; ++o) {
      const uint32_t* run = qz.data() + g * zcols + (o / 32) * bits;
      u.z[size_t(g * u.out + o)] = int32_t(unpack_value(run, int(o % 32), bits)) + 1;
      u.s[size_t(g * u.out + o)] = f16_to_f32(sc[size_t(g * u.out + o)]);
    }
  return u;
}

// --- quantizing llama3-tiny through the library ----------------------------------------------

struct Case {
  int bits;
  int64_t group;
  bool act_order;
  bool sym = false;
  GridFlavor flavor = GridFlavor::kGptq;
};

std::string make_quant_dir(const std::string& model_dir, const CalibSet& calib, const fs::path& out,
                           const Case& c, Method method = Method::kGptq, bool real_zero = false) {
  Model m = load_model(model_dir);
  QuantizeConfig qc;
  qc.method = method;
  qc.grid.bits = c.bits;
  qc.grid.group = c.group;
  qc.grid.sym = c.sym;
  qc.grid.flavor = c.flavor;
  qc.grid.real_zero = real_zero;
  qc.solver.act_order = c.act_order;
  qc.progress = false;
  std::map<std::string, QuantizedLinear> lin;
  quantize_model(m, calib, qc, &lin);
  nlohmann::ordered_json report;
  report["model"] = model_dir;
  report["settings"] = {{"method", method_name(method)},
                        {"grid",
                         {{"bits", c.bits},
                          {"group", c.group},
                          {"sym", c.sym},
                          {"mse", false},
                          {"describe", qc.grid.describe()}}},
                        {"solver",
                         {{"percdamp", 0.01},
                          {"blocksize", 128},
                          {"act_order", c.act_order},
                          {"static_groups", false}}}};
  write_quant_output(out.string(), false, model_dir, m, lin, qc.grid, report);
  return out.string();
}

CalibSet tiny_calib(const std::string& model_dir) {
  const auto tok = load_tokenizer(model_dir);
  CalibConfig c;
  c.nsamples = 4;
  c.seqlen = 32;
  return sample_calibration(*tok, c, *test::assets_dir() + "/data");
}

// Unpacks every linear of the GPTQ export and compares with the quantize output: the integers
// reproduce the engine's weights exactly with its f32 scales, and the checkpoint's own
// dequantization differs from them only by the fp16 rounding of the scales.
void check_round_trip(const std::string& qdir, const std::string& gdir, const Case& c) {
  SCOPED_TRACE(fmt::format("bits {} group {} act_order {} sym {} flavor {}", c.bits, c.group,
                           c.act_order, c.sym, int(c.flavor)));
  // The engine's weights, as loaq loads them: the quantized linears dequantized from their state.
  const Checkpoint engine(qdir);
  const SafetensorsFile model(qdir + "/model.safetensors"),
      state(qdir + "/quant_state.safetensors");
  const SafetensorsFile g(gdir + "/model.safetensors");
  const auto cfg = read_json_file(gdir + "/config.json");
  const auto& qc = cfg.at("quantization_config");
  EXPECT_EQ(qc.at("quant_method"), "gptq");
  EXPECT_EQ(qc.at("checkpoint_format"), "gptq");
  EXPECT_EQ(qc.at("bits"), c.bits);
  EXPECT_EQ(qc.at("group_size"), c.group);
  EXPECT_EQ(qc.at("sym"), c.sym);
  EXPECT_EQ(qc.at("desc_act"),
            c.act_order && c.group > 0);  // channel-wise act-order leaves g_idx = 0
  EXPECT_EQ(read_json_file(gdir + "/quantize_config.json"), qc);
  int64_t linears = 0, nontrivial_g_idx = 0;
  for (const std::string& name : engine.tensor_names()) {
    const std::string base = name.substr(0, name.size() - 7);
    if (!state.find(base + ".codes")) {  // not quantized: stored as fp16
      if (g.find(name)) {
        const Tensor a = engine.load_f32(name), b = g.read_f32(name);
        ASSERT_EQ(g.find(name)->dtype, DType::F16) << name;
        for (size_t i = 0; i < a.data.size(); ++i)
          ASSERT_EQ(b.data[i], f16_to_f32(f32_to_f16(a.data[i]))) << name;
      } else {
        ADD_FAILURE() << "missing " << name;
      }
      continue;
    }
    ++linears;
    // Every grid's state reproduces its weights, so model.safetensors leaves them out.
    EXPECT_EQ(model.find(name), nullptr) << name;
    EXPECT_EQ(g.find(name), nullptr) << name;  // replaced by the packed tensors
    const Unpacked u = unpack_linear(g, base, c.bits);
    const Tensor w = engine.load_f32(name), s32 = state.read_f32(base + ".scale");
    ASSERT_EQ(u.out, w.rows());
    ASSERT_EQ(u.in, w.cols());
    ASSERT_EQ(u.groups, s32.cols());
    const int64_t gs = c.group < 0 ? u.in : c.group;
    for (int64_t col = 0; col < u.in; ++col) nontrivial_g_idx += u.g_idx[size_t(col)] != col / gs;
    for (int64_t o = 0; o < u.out; ++o)
      for (int64_t col = 0; col < u.in; ++col) {
        const int32_t gi = u.g_idx[size_t(col)];
        ASSERT_TRUE(gi >= 0 && gi < u.groups);
        const int32_t q = int32_t(u.q[size_t(col * u.out + o)]), z = u.z[size_t(gi * u.out + o)];
        const float s_eng = s32.data[size_t(o * u.groups + gi)],
                    w_eng = w.data[size_t(o * u.in + col)];
        // Exact with the engine's f32 scale.
        ASSERT_EQ(s_eng * float(q - z), w_eng) << base << " [" << o << ", " << col << "]";
        // The checkpoint's scale is the f32 scale rounded to fp16; its weights differ by that only.
        ASSERT_EQ(u.s[size_t(gi * u.out + o)], f16_to_f32(f32_to_f16(s_eng)));
        const float w_ckpt = u.s[size_t(gi * u.out + o)] * float(q - z);
        ASSERT_LE(std::abs(w_ckpt - w_eng), std::abs(w_eng) * 0x1p-11f) << base;
      }
  }
  EXPECT_EQ(linears, 14);
  if (c.act_order && c.group > 0) {
    EXPECT_GT(nontrivial_g_idx, 0);
  } else {
    EXPECT_EQ(nontrivial_g_idx, 0);
  }
}

TEST(ExportGptq, RoundTripAllBitWidthsGroupingsAndActOrder) {
  LOAQ_REQUIRE_ASSET(dir, "models/llama3-tiny");
  LOAQ_REQUIRE_ASSET(data, "data");
  TempDir t("rt");
  const CalibSet calib = tiny_calib(dir);
  std::vector<Case> cases;
  for (int bits : {2, 3, 4, 8})
    for (int64_t group : {int64_t(-1), int64_t(32)})
      for (bool ao : {false, true}) cases.push_back({bits, group, ao});
  cases.push_back({4, 32, true, true, GridFlavor::kGptq});     // symmetric, zero 2^(b−1)
  cases.push_back({3, -1, false, true, GridFlavor::kQuarot});  // signed codes, zero 0: shifted
  int i = 0;
  for (const Case& c : cases) {
    const fs::path q = t.p / fmt::format("q{}", i), g = t.p / fmt::format("g{}", i);
    ++i;
    make_quant_dir(dir, calib, q, c);
    ExportOptions o;
    export_gptq(q.string(), g.string(), o);
    check_round_trip(q.string(), g.string(), c);
    const InspectResult r = inspect_checkpoint(g.string());
    EXPECT_TRUE(r.problems.empty()) << format_inspect(r);
    EXPECT_EQ(r.info["kind"], "GPTQ checkpoint");
    fs::remove_all(q);
    fs::remove_all(g);
  }
}

// What the format cannot represent is refused, and nothing is left behind.
TEST(ExportGptq, RefusesWhatTheFormatCannotRepresent) {
  LOAQ_REQUIRE_ASSET(dir, "models/llama3-tiny");
  LOAQ_REQUIRE_ASSET(data, "data");
  TempDir t("refuse");
  const CalibSet none{0, 32, {}, "none"};
  auto expect_refusal = [&](const std::string& q, const std::string& what) {
    const fs::path out = t.p / "out";
    try {
      export_gptq(q, out.string(), ExportOptions{});
      ADD_FAILURE() << "export of " << q << " did not fail (expected: " << what << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(out));
    for (const auto& e : fs::directory_iterator(t.p))
      EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
  };
  // Real-valued zero points (brevitas float zero, as NeUQI).
  const std::string rz = make_quant_dir(
      dir, none, t.p / "rz", {4, 32, false, false, GridFlavor::kBrevitas}, Method::kRtn, true);
  expect_refusal(rz, "real-valued zero");
  // 5 bits.
  expect_refusal(make_quant_dir(dir, none, t.p / "b5", {5, -1, false}, Method::kRtn),
                 "2, 3, 4 and 8");
  // A zero point of 0 (v1 stores zero − 1): crafted on one group, weights kept consistent.
  {
    Model m = load_model(dir);
    GridConfig grid;
    grid.bits = 4;
    grid.group = 32;
    std::map<std::string, QuantizedLinear> lin;
    QuantizeConfig qc;
    qc.method = Method::kRtn;
    qc.grid = grid;
    qc.progress = false;
    quantize_model(m, none, qc, &lin);
    auto& q = lin.at("model.layers.1.mlp.up_proj");
    const int64_t N = q.q.cols(), G = q.scale.cols();
    q.zero.data[0] = 0.0f;
    for (int64_t c = 0; c < 32; ++c)
      q.q.data[size_t(c)] = q.scale.data[0] * float(q.codes[size_t(c)]);
    m.weights.layers[1].up.w.data = q.q.data;
    (void)N;
    (void)G;
    nlohmann::ordered_json report = {{"settings", {{"method", "rtn"}}}};
    write_quant_output((t.p / "z0").string(), false, dir, m, lin, grid, report);
    expect_refusal((t.p / "z0").string(), "zero point 0");
  }
  // A setting this version does not know (a later feature such as an online Hadamard transform).
  const std::string ok = make_quant_dir(dir, none, t.p / "ok", {4, 32, false}, Method::kRtn);
  {
    auto rep = read_json_file(ok + "/report.json");
    rep["settings"]["hadamard"] = "online";
    std::ofstream(ok + "/report.json") << rep.dump();
    expect_refusal(ok, "settings.hadamard");
    rep["settings"].erase("hadamard");
    std::ofstream(ok + "/report.json") << rep.dump();
  }
  // An extra state tensor (a low-rank branch, say).
  {
    const SafetensorsFile st(ok + "/quant_state.safetensors");
    std::vector<TensorToWrite> tw;
    std::vector<std::vector<std::byte>> keep;
    for (const auto& ti : st.tensors()) tw.push_back({ti.name, ti.dtype, ti.shape, st.bytes(ti)});
    const std::vector<float> lr(4, 0.5f);
    tw.push_back(
        {"model.layers.0.mlp.down_proj.lora_a", DType::F32, {2, 2}, std::as_bytes(std::span(lr))});
    write_safetensors(ok + "/quant_state2.safetensors", tw, st.metadata());
  }
  fs::rename(ok + "/quant_state2.safetensors", ok + "/quant_state.safetensors");
  expect_refusal(ok, "lora_a");
  // The model directory itself is not a quantization output.
  expect_refusal(dir, "not a loaq quantization output");
}

// The CLI end to end on the real stories260K model: quantize --export hf (float32) reproduces the
// quantize run's perplexity bit for bit; fp16 sharded export loads; inspect validates; refusals.
TEST(ExportCli, HfExportReproducesPerplexityAndInspectValidates) {
  LOAQ_REQUIRE_ASSET(dir, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  TempDir t("cli");
  const std::string bin = LOAQ_BINARY, q = (t.p / "q").string(), h = (t.p / "h").string();
  // A short evaluation text (the first 24 kB of WikiText-2 test) keeps the three evaluations cheap.
  const std::string text = (t.p / "eval.txt").string();
  {
    std::ifstream in(data + "/wikitext2/wiki.test.raw", std::ios::binary);
    std::string buf(24000, '\0');
    in.read(buf.data(), std::streamsize(buf.size()));
    buf.resize(size_t(in.gcount()));
    ASSERT_GT(buf.size(), 10000u);
    std::ofstream(text, std::ios::binary) << buf;
  }
  std::string log;
  ASSERT_EQ(
      run(bin + " quantize -q --model " + dir + " --data " + data +
              " --method gptq --wbits 3 --group 32 --act-order --nsamples 8 --seqlen 128 --eval " +
              text + " --out " + q + " --export hf --export-dir " + h,
          &log),
      0)
      << log;
  const auto ppl_of = [](const std::string& json_file) {
    const auto j = read_json_file(json_file).at("ppl");
    EXPECT_EQ(j.size(), 1u);
    return j.begin()->get<double>();
  };
  const double ppl_q = ppl_of(q + "/report.json");
  EXPECT_EQ(read_json_file(h + "/config.json").at("torch_dtype"), "float32");
  EXPECT_FALSE(fs::exists(h + "/report.json"));
  EXPECT_FALSE(fs::exists(h + "/quant_state.safetensors"));
  EXPECT_TRUE(fs::exists(h + "/tokenizer.model"));
  const std::string j = (t.p / "e.json").string();
  ASSERT_EQ(
      run(bin + " eval -q --model " + h + " --ppl " + text + " --seqlen 128 --json " + j, &log), 0)
      << log;
  EXPECT_EQ(ppl_of(j), ppl_q);

  // float16, sharded: loads, perplexity within fp16 rounding of the weights, inspect passes.
  const std::string h16 = (t.p / "h16").string();
  ASSERT_EQ(run(bin + " export -q --format hf --dtype float16 --max-shard-size 200KB --out " + h16 +
                    " " + q,
                &log),
            0)
      << log;
  EXPECT_TRUE(fs::exists(h16 + "/model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(h16 + "/model-00001-of-00003.safetensors")) << log;
  ASSERT_EQ(
      run(bin + " eval -q --model " + h16 + " --ppl " + text + " --seqlen 128 --json " + j, &log),
      0)
      << log;
  EXPECT_NEAR(ppl_of(j), ppl_q, 1e-2 * ppl_q);
  EXPECT_NE(ppl_of(j), ppl_q);  // fp16 weights do differ
  for (const std::string& d : {std::string(dir), q, h, h16}) {
    EXPECT_EQ(run(bin + " inspect " + d, &log), 0) << log;
    EXPECT_NE(log.find("validation: ok"), std::string::npos) << log;
  }
  EXPECT_NE(log.find("parameters: "), std::string::npos) << log;
  EXPECT_NE(log.find("F16"), std::string::npos) << log;

  // Refusals: dimensions the GPTQ format cannot pack (intermediate 172), an existing output,
  // a directory that is not a quantization output, a truncated quant_state.
  const std::string g = (t.p / "g").string();
  EXPECT_EQ(run(bin + " export --format gptq --out " + g + " " + q, &log), 1);
  EXPECT_NE(log.find("multiples of 32"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(g));
  EXPECT_EQ(run(bin + " export --format hf --out " + h16 + " " + q, &log), 1);
  EXPECT_NE(log.find("exists"), std::string::npos) << log;
  EXPECT_EQ(
      run(bin + " export -q --format hf --dtype float16 --force --out " + h16 + " " + q, &log), 0)
      << log;
  EXPECT_TRUE(fs::exists(h16 + "/model.safetensors"));  // replaced (default shard size: one file)
  EXPECT_FALSE(fs::exists(h16 + "/model.safetensors.index.json"));
  // A full disk (a 100 kB file size limit; SIGXFSZ ignored so that writes fail with EFBIG): an
  // error, and no directory left behind, complete-looking or partial.
  EXPECT_EQ(run("bash -c 'trap \"\" XFSZ; ulimit -f 100; exec " + bin +
                    " export --format hf --out " + g + " " + q + "'",
                &log),
            1);
  EXPECT_NE(log.find("cannot write"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(g));
  EXPECT_EQ(run(bin + " export --format hf --out " + g + " " + dir, &log), 1);
  EXPECT_NE(log.find("not a loaq quantization output"), std::string::npos) << log;
  fs::resize_file(q + "/quant_state.safetensors",
                  fs::file_size(q + "/quant_state.safetensors") / 2);
  EXPECT_EQ(run(bin + " export --format hf --out " + g + " " + q, &log), 1);
  EXPECT_NE(log.find("quant_state.safetensors"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(g));
  EXPECT_EQ(run(bin + " inspect " + q, &log), 1);
  EXPECT_NE(log.find("quant_state.safetensors"), std::string::npos) << log;
  for (const auto& e : fs::directory_iterator(t.p))
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
}

// quantize --export gptq writes both directories; inspect validates the GPTQ one.
TEST(ExportCli, QuantizeWithGptqExport) {
  LOAQ_REQUIRE_ASSET(dir, "models/llama3-tiny");
  LOAQ_REQUIRE_ASSET(data, "data");
  TempDir t("qg");
  const std::string bin = LOAQ_BINARY, q = (t.p / "q").string();
  std::string log;
  ASSERT_EQ(run(bin + " quantize -q --model " + dir + " --data " + data +
                    " --method loaq --wbits 4 --group 32 --nsamples 4 --seqlen 32 --out " + q +
                    " --export gptq",
                &log),
            0)
      << log;
  ASSERT_TRUE(fs::exists(q + "-gptq/model.safetensors")) << log;
  check_round_trip(q, q + "-gptq", {4, 32, false});
  EXPECT_EQ(run(bin + " inspect " + q + "-gptq", &log), 0) << log;
  EXPECT_NE(log.find("GPTQ checkpoint"), std::string::npos) << log;
  EXPECT_NE(log.find("of which"), std::string::npos) << log;
}

}  // namespace
}  // namespace loaq
