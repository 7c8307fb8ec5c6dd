// The low-rank branch's storage and exports end to end (issue 14), before the pipeline fits
// branches itself: stories260K quantized with `loaq quantize --method rtn` through the CLI, then
// branches fitted here to W − Q(W) and attached to its quant_state.safetensors. The exports are
// read back by an independent safetensors reader written here from the format's definition, and
// the PEFT round trip checks that base + B·A is Q(W) + L2·L1 of the stored codes, and equals
// --format hf --merge-lowrank.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "io/lowrank_state.h"
#include "io/safetensors.h"
#include "quant/lowrank.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path p;
  explicit TempDir(const std::string& tag)
      : p(fs::temp_directory_path() / ("loaq_lowrank_" + tag + "_" + std::to_string(::getpid()))) {
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

// --- an independent safetensors reader: u64 header length, JSON header, data section ---------
struct RawTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<double> v;
};

std::map<std::string, RawTensor> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  std::string hdr(n, '\0');
  in.read(hdr.data(), std::streamsize(n));
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, RawTensor> m;
  const nlohmann::json header = nlohmann::json::parse(hdr);
  for (const auto& [name, t] : header.items()) {
    if (name == "__metadata__") continue;
    RawTensor r{t["dtype"], t["shape"].get<std::vector<int64_t>>(), {}};
    const size_t b = t["data_offsets"][0], e = t["data_offsets"][1];
    const char* p = data.data() + b;
    if (r.dtype == "F32") {
      for (size_t i = 0; i < (e - b) / 4; ++i) {
        float f;
        std::memcpy(&f, p + 4 * i, 4);
        r.v.push_back(f);
      }
    } else if (r.dtype == "F16" || r.dtype == "BF16") {
      for (size_t i = 0; i < (e - b) / 2; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        r.v.push_back(r.dtype == "F16" ? f16_to_f32(h) : bf16_to_f32(h));
      }
    } else if (r.dtype == "I8") {
      for (size_t i = 0; i < e - b; ++i) r.v.push_back(double(int8_t(p[i])));
    } else if (r.dtype == "I32") {
      for (size_t i = 0; i < (e - b) / 4; ++i) {
        int32_t x;
        std::memcpy(&x, p + 4 * i, 4);
        r.v.push_back(x);
      }
    }
    m.emplace(name, std::move(r));
  }
  return m;
}

// --- the synthetic quantize output ---------------------------------------------------------
// Fits an svd branch to W − Q(W) of the chosen linears (rank 6 for down_proj, 4 otherwise; no
// branch for layer 4's v_proj) and attaches them to `q`'s quant_state.safetensors.
void attach_branches(const std::string& model_dir, const std::string& q, int wbits, int abits) {
  const SafetensorsFile src(model_dir + "/model.safetensors");
  const Checkpoint qm(q);  // the quantized linears, dequantized from their integer state
  std::map<std::string, LowRankBranch> br;
  for (const std::string& name : qm.tensor_names()) {
    if (!name.ends_with("_proj.weight") || name == "model.layers.4.self_attn.v_proj.weight")
      continue;
    const std::string lin = name.substr(0, name.size() - 7);
    Tensor e = src.read_f32(name);
    const Tensor wq = qm.load_f32(name);
    for (size_t i = 0; i < e.data.size(); ++i) e.data[i] -= wq.data[i];
    LowRankConfig c;
    c.rule = LowRankRule::kSvd;
    c.rank = lin.ends_with("down_proj") ? 6 : 4;
    c.wbits = wbits;
    c.abits = abits;
    br.emplace(lin, fit_lowrank(e, c, {}).branch);
  }
  add_lowrank_to_safetensors(q + "/quant_state.safetensors", br);
  auto rep = read_json_file(q + "/report.json");
  rep["settings"]["lowrank"] = {{"rule", "svd"}, {"rank", 4}, {"wbits", wbits}, {"abits", abits}};
  std::ofstream(q + "/report.json") << rep.dump(2);
}

struct Fixture {
  TempDir t;
  std::string bin = LOAQ_BINARY, dir, q;
  explicit Fixture(const std::string& tag, const std::string& model_dir, const std::string& data,
                   int wbits, int abits)
      : t(tag), dir(model_dir), q((t.p / "q").string()) {
    std::string log;
    EXPECT_EQ(run(bin + " quantize -q --model " + dir + " --data " + data +
                      " --method rtn --wbits 4 --nsamples 2 --seqlen 32 --out " + q,
                  &log),
              0)
        << log;
    attach_branches(dir, q, wbits, abits);
  }
};

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

TEST(LowRankExport, PeftRoundTripReproducesTheBranches) {
  LOAQ_REQUIRE_ASSET(dir, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  Fixture f("peft", dir, data, 8, 16);
  const std::string peft = (f.t.p / "peft").string(), peft16 = (f.t.p / "peft16").string(),
                    base = (f.t.p / "base").string(), merged = (f.t.p / "merged").string();
  std::string log;
  ASSERT_EQ(run(f.bin + " export --format peft --dtype float32 --out " + peft + " " + f.q, &log), 0)
      << log;
  EXPECT_NE(log.find("low-rank branches: 34"), std::string::npos) << log;
  ASSERT_EQ(run(f.bin + " export -q --format peft --out " + peft16 + " " + f.q, &log), 0) << log;
  ASSERT_EQ(run(f.bin + " export --format hf --dtype float32 --out " + base + " " + f.q, &log), 0)
      << log;
  EXPECT_NE(log.find("not in these weights"), std::string::npos) << log;  // says what is left out
  ASSERT_EQ(run(f.bin + " export -q --format hf --merge-lowrank --dtype float32 --out " + merged +
                    " " + f.q,
                &log),
            0)
      << log;

  // adapter_config.json
  const auto cfg = read_json_file(peft + "/adapter_config.json");
  EXPECT_EQ(cfg.at("peft_type"), "LORA");
  EXPECT_EQ(cfg.at("task_type"), "CAUSAL_LM");
  EXPECT_EQ(cfg.at("r"), 4);
  EXPECT_EQ(cfg.at("lora_alpha"), 4);
  EXPECT_EQ(cfg.at("base_model_name_or_path"), dir);
  EXPECT_EQ(cfg.at("rank_pattern").size(), 5u);  // the five down_proj, rank 6
  EXPECT_EQ(cfg.at("rank_pattern").at("layers.2.mlp.down_proj"), 6);
  EXPECT_EQ(cfg.at("alpha_pattern").at("layers.2.mlp.down_proj"), 6);  // scaling α/r = 1
  const auto targets = cfg.at("target_modules").get<std::vector<std::string>>();
  for (const char* s : {"q_proj", "k_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
    EXPECT_NE(std::find(targets.begin(), targets.end(), s), targets.end()) << s;
  // v_proj lacks a branch in layer 4: the four others are named one by one.
  EXPECT_EQ(std::find(targets.begin(), targets.end(), "v_proj"), targets.end());
  EXPECT_NE(std::find(targets.begin(), targets.end(), "model.layers.3.self_attn.v_proj"),
            targets.end());
  EXPECT_EQ(targets.size(), 6u + 4u);

  // The round trip: base + B·A (this reader's own product) against Q(W) + L2·L1 from the codes.
  const auto ad = read_raw(peft + "/adapter_model.safetensors"),
             ad16 = read_raw(peft16 + "/adapter_model.safetensors"),
             bw = read_raw(base + "/model.safetensors"),
             mw = read_raw(merged + "/model.safetensors"),
             st = read_raw(f.q + "/quant_state.safetensors"),
             orig = read_raw(dir + "/model.safetensors");
  EXPECT_EQ(ad.size(), 2u * 34u);
  int checked = 0;
  for (const auto& [name, w] : bw) {
    if (!name.ends_with("_proj.weight")) {
      EXPECT_EQ(max_abs_diff(w.v, mw.at(name).v), 0.0) << name;  // untouched by the merge
      continue;
    }
    const std::string lin = name.substr(0, name.size() - 7);
    const std::string a = "base_model.model." + lin + ".lora_A.weight",
                      b = "base_model.model." + lin + ".lora_B.weight";
    if (!ad.count(a)) {
      EXPECT_EQ(lin, "model.layers.4.self_attn.v_proj");
      EXPECT_FALSE(ad.count(b));
      EXPECT_EQ(max_abs_diff(w.v, mw.at(name).v), 0.0) << name;
      continue;
    }
    const RawTensor &A = ad.at(a), &B = ad.at(b);
    const int64_t out = w.shape[0], in = w.shape[1], r = A.shape[0];
    ASSERT_EQ(A.shape, (std::vector<int64_t>{r, in}));
    ASSERT_EQ(B.shape, (std::vector<int64_t>{out, r}));
    EXPECT_EQ(A.dtype, "F32");
    EXPECT_EQ(ad16.at(a).dtype, "F16");
    EXPECT_EQ(r, lin.ends_with("down_proj") ? 6 : 4);
    // The branch from its codes: row i of a factor is scale[i] · codes[i, :].
    const auto& c1 = st.at(lin + ".lowrank.l1.codes").v;
    const auto& s1 = st.at(lin + ".lowrank.l1.scale").v;
    const auto& c2 = st.at(lin + ".lowrank.l2.codes").v;
    const auto& s2 = st.at(lin + ".lowrank.l2.scale").v;
    EXPECT_EQ(st.at(lin + ".lowrank.bits").v, (std::vector<double>{double(r), 8, 16}));
    double err_q = 0, err_b = 0;
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        double ba = 0, l21 = 0;
        for (int64_t k = 0; k < r; ++k) {
          ba += B.v[size_t(o * r + k)] * A.v[size_t(k * in + i)];
          l21 += float(s2[size_t(o)] * float(c2[size_t(o * r + k)])) *
                 double(float(s1[size_t(k)] * float(c1[size_t(k * in + i)])));
          EXPECT_NEAR(ad16.at(a).v[size_t(k * in + i)], A.v[size_t(k * in + i)],
                      1e-3 * std::abs(A.v[size_t(k * in + i)]) + 1e-7);
        }
        const size_t j = size_t(o * in + i);
        const double merged_here = w.v[j] + ba;
        EXPECT_NEAR(merged_here, w.v[j] + l21, 1e-6);
        EXPECT_NEAR(mw.at(name).v[j], merged_here, 1e-6);  // --merge-lowrank agrees
        err_q += std::pow(orig.at(name).v[j] - w.v[j], 2);
        err_b += std::pow(orig.at(name).v[j] - merged_here, 2);
      }
    EXPECT_LT(err_b, err_q) << name;  // the branch compensates part of the error
    ++checked;
  }
  EXPECT_EQ(checked, 34);  // 35 linears, one without a branch
  // inspect validates a quantize output with branches.
  ASSERT_EQ(run(f.bin + " inspect " + f.q, &log), 0) << log;
  // The adapter directory holds exactly the two files.
  EXPECT_EQ(std::distance(fs::directory_iterator(peft), fs::directory_iterator()), 2);
}

TEST(LowRankExport, RefusesWhatALoraLoaderCannotExpress) {
  LOAQ_REQUIRE_ASSET(dir, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  Fixture f("refuse", dir, data, 4, 8);
  std::string log;
  const std::string o = (f.t.p / "o").string();
  EXPECT_EQ(run(f.bin + " export --format peft --out " + o + " " + f.q, &log), 1) << log;
  EXPECT_NE(log.find("--drop-branch-act-quant"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(o));
  EXPECT_EQ(run(f.bin + " export --format hf --merge-lowrank --out " + o + " " + f.q, &log), 1)
      << log;
  EXPECT_NE(log.find("--drop-branch-act-quant"), std::string::npos) << log;
  EXPECT_EQ(
      run(f.bin + " export --format peft --drop-branch-act-quant --base-model my/base --out " + o +
              " " + f.q,
          &log),
      0)
      << log;
  EXPECT_NE(log.find("lost: the per-token activation quantization of 34 branches"),
            std::string::npos)
      << log;
  EXPECT_EQ(read_json_file(o + "/adapter_config.json").at("base_model_name_or_path"), "my/base");
  EXPECT_EQ(run(f.bin + " export --format gptq --merge-lowrank --out " + o + "2 " + f.q, &log), 1);
  EXPECT_NE(log.find("--merge-lowrank applies to --format hf"), std::string::npos) << log;

  // A model without branches has no adapter.
  const std::string plain = (f.t.p / "plain").string();
  ASSERT_EQ(run(f.bin + " quantize -q --model " + dir + " --data " + data +
                    " --method rtn --wbits 4 --nsamples 2 --seqlen 32 --out " + plain,
                &log),
            0)
      << log;
  EXPECT_EQ(run(f.bin + " export --format peft --out " + o + "3 " + plain, &log), 1);
  EXPECT_NE(log.find("no low-rank branch"), std::string::npos) << log;
  EXPECT_EQ(run(f.bin + " export --format hf --merge-lowrank --out " + o + "3 " + plain, &log), 1);

  // A corrupted branch (a code beyond the 4-bit range) is refused, naming the file.
  {
    const std::string sp = f.q + "/quant_state.safetensors";
    const SafetensorsFile st(sp);
    std::vector<TensorToWrite> tw;
    std::vector<std::vector<std::byte>> keep;
    keep.reserve(st.tensors().size());
    for (const auto& ti : st.tensors()) {
      const auto b = st.bytes(ti);
      keep.emplace_back(b.begin(), b.end());
      if (ti.name == "model.layers.1.mlp.up_proj.lowrank.l1.codes") keep.back()[3] = std::byte(9);
      tw.push_back({ti.name, ti.dtype, ti.shape, keep.back()});
    }
    write_safetensors(sp + ".tmp", tw, st.metadata());
  }
  fs::rename(f.q + "/quant_state.safetensors.tmp", f.q + "/quant_state.safetensors");
  EXPECT_EQ(
      run(f.bin + " export --format peft --drop-branch-act-quant --out " + o + "4 " + f.q, &log),
      1);
  EXPECT_NE(log.find("quant_state.safetensors"), std::string::npos) << log;
  EXPECT_NE(log.find("outside ±7"), std::string::npos) << log;
  EXPECT_EQ(run(f.bin + " inspect " + f.q, &log), 1) << log;
  EXPECT_NE(log.find("outside ±7"), std::string::npos) << log;
}

}  // namespace
}  // namespace loaq
