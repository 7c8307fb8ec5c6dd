// Low-rank branches exported as a llama.cpp LoRA adapter (`loaq export --format gguf-lora`), on
// the base that `--format gguf` writes from the same quantize output (its main layers):
//  - GgufLoraLlamaCpp: against the real llama.cpp (scripts/install-llama-cpp.sh): llama-mini-7m
//    and qwen3-tiny quantized with 16-bit-activation branches (svd, qera, loaq rules; RTN and
//    GPTQ; equal ranks, different ranks per linear, quantized branch weights, --lowrank-first):
//    llama.cpp's logits of the F32 base with the F32 adapter (tools/llama_logits.cc --lora: F32
//    KV cache, no flash attention) equal loaq's forward pass of the quantize output, branches
//    included (what `loaq eval` runs), within 1e-5 relative RMS; the base alone is far off.
//    Without the tools these skip, saying so.
//  - GgufLoraCli: the file read back with loaq's GGUF reader (metadata, names, ggml shapes, the
//    factors' values, llama's q/k permutation of lora_b) and the refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_run.h"
#include "export/gguf_names.h"
#include "export/quant_dir.h"
#include "io/gguf.h"
#include "llama_cpp_tools.h"
#include "model/model.h"
#include "model/weights.h"
#include "quant/gguf_block.h"
#include "test_assets.h"
#include "text/tokenizer.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

using test::llama_bin;
using test::llama_logits;

#define LOAQ_REQUIRE_LLAMA_LOGITS()                                       \
  if (!fs::exists(llama_bin() + "/llama-logits"))                         \
  GTEST_SKIP() << "llama.cpp's llama-logits not found in " << llama_bin() \
               << " (run scripts/install-llama-cpp.sh, or set LOAQ_LLAMA_CPP_BIN)"

const fs::path& work_dir() {
  return test::llama_work_dir();
}

std::string path_of(const std::string& name) {
  return (work_dir() / name).string();
}

// `loaq quantize` of `model` into work_dir()/name with a few calibration windows, on one thread
// (on this busy 2-core machine GPTQ with a qera branch took 19 s on two threads, 0.5 s on one).
std::string quantize(const std::string& model, const std::string& data, const std::string& name,
                     const std::vector<std::string>& method_args) {
  const std::string out = path_of(name);
  std::vector<std::string> args = {"quantize",  "-q",         "--model", model,      "--data",
                                   data,        "--nsamples", "4",       "--seqlen", "64",
                                   "--threads", "1",          "--out",   out};
  args.insert(args.end(), method_args.begin(), method_args.end());
  const auto r = test::run_loaq(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return out;
}

test::CliResult export_gguf(const std::string& format, const std::string& type,
                            const std::string& out, const std::string& in,
                            std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"export", "--format", format, "--type", type, "--out", out};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(in);
  return test::run_loaq(args);
}

// ‖a − ref‖ / ‖ref‖ over all logits.
double rel_rms(const std::vector<float>& a, const std::vector<float>& ref) {
  EXPECT_EQ(a.size(), ref.size());
  double e2 = 0, r2 = 0;
  for (size_t i = 0; i < std::min(a.size(), ref.size()); ++i) {
    e2 += std::pow(double(a[i]) - double(ref[i]), 2);
    r2 += double(ref[i]) * double(ref[i]);
  }
  return std::sqrt(e2 / r2);
}

const char* kText =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun "
    "with her friends, and one day she found a shiny red ball under the old tree.";

struct LoraCase {
  const char* name;
  const char* model;
  std::vector<std::string> args;  // method and branch
  bool mixed_ranks;               // some rank is clamped to min(out, in): alpha 0
};

void PrintTo(const LoraCase& c, std::ostream* os) {
  *os << c.name;
}

class GgufLoraLlamaCpp : public testing::TestWithParam<LoraCase> {};

TEST_P(GgufLoraLlamaCpp, AdapterOnBaseEqualsLoaqEval) {
  LOAQ_REQUIRE_LLAMA_LOGITS();
  const LoraCase& p = GetParam();
  LOAQ_REQUIRE_ASSET(model, std::string("models/") + p.model);
  LOAQ_REQUIRE_ASSET(data, "data");
  const std::string q = quantize(model, data, std::string("q-") + p.name, p.args);
  const std::string base = q + "-base.gguf", lora = q + "-lora.gguf", lora16 = q + "-lora16.gguf";
  auto r = export_gguf("gguf", "F32", base, q);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.has("--format gguf-lora")) << r.output;  // says where the branches are
  r = export_gguf("gguf-lora", "F32", lora, q);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.has("different ranks"), p.mixed_ranks) << r.output;
  ASSERT_EQ(export_gguf("gguf-lora", "F16", lora16, q).exit_code, 0);
  {
    const GgufFile f(lora);
    const QuantDir qd(q);
    const int64_t r0 = qd.load_lowrank(qd.lowrank_linears()[0]).rank();
    EXPECT_EQ(f.header().get_float("adapter.lora.alpha", lora), p.mixed_ranks ? 0.0 : double(r0));
  }

  const ModelConfig cfg = load_model_config(q);
  const auto ids = load_model_tokenizer(q, cfg)->encode_with_special(kText);
  ASSERT_GT(ids.size(), 20u);
  // loaq's forward pass of the quantize output, branches included (what `loaq eval` runs).
  const Model m = load_model(q);
  const Tensor ours_t = forward(m, ids, BatchShape{1, int64_t(ids.size())});
  const std::vector<float> ours(ours_t.data.begin(), ours_t.data.end());
  const double with = rel_rms(llama_logits(base, ids, lora), ours);
  const double with16 = rel_rms(llama_logits(base, ids, lora16), ours);
  const double alone = rel_rms(llama_logits(base, ids), ours);
  RecordProperty("relative_error_f32_adapter", std::to_string(with));
  RecordProperty("relative_error_f16_adapter", std::to_string(with16));
  RecordProperty("relative_error_base_alone", std::to_string(alone));
  std::printf(
      "%s: relative RMS error of llama.cpp's logits against loaq eval's: base + F32 adapter "
      "%.3g, base + F16 adapter %.3g, base alone %.3g\n",
      p.name, with, with16, alone);
  // F32 base and adapter: llama.cpp computes in fp32. An F16 adapter rounds the factors and, in
  // ggml's F16 matmul, the branch's activations to fp16.
  EXPECT_LT(with, 1e-5);
  EXPECT_LT(with16, 3e-3);
  EXPECT_GT(alone, 100 * with);
  EXPECT_GT(alone, 1e-4);
}

std::vector<LoraCase> lora_cases() {
  return {
      {"llama_rtn_svd_r8",
       "llama-mini-7m",
       {"--method", "rtn", "--wbits", "4", "--lowrank", "svd", "--rank", "8"},
       false},
      {"qwen3_gptq_qera_r8",
       "qwen3-tiny",
       {"--method", "gptq", "--wbits", "4", "--lowrank", "qera", "--rank", "8"},
       false},
      // r = 160 is clamped to 128 = min(out, in) for k_proj and v_proj: two ranks in one file.
      {"llama_gptq_svd_ranks_160_128",
       "llama-mini-7m",
       {"--method", "gptq", "--wbits", "4", "--lowrank", "svd", "--rank", "160"},
       true},
      // 8-bit branch weights (the adapter holds their dequantized values), SVDQuant's order.
      {"llama_gptq_loaq_w8_first",
       "llama-mini-7m",
       {"--method", "gptq", "--wbits", "3", "--lowrank", "loaq", "--rank", "16", "--lowrank-bits",
        "8,16", "--lowrank-first", "--lowrank-steps", "20"},
       false},
  };
}

INSTANTIATE_TEST_SUITE_P(Models, GgufLoraLlamaCpp, testing::ValuesIn(lora_cases()),
                         [](const testing::TestParamInfo<LoraCase>& i) { return i.param.name; });

// The adapter read back with loaq's GGUF reader, and every refusal a clean error naming the input.
TEST(GgufLoraCli, AdapterMetadataTensorsAndRefusals) {
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(data, "data");
  // Branches of rank 4 at W8A8: the adapter needs --drop-branch-act-quant.
  const std::string q = quantize(model, data, "cli-q",
                                 {"--method", "rtn", "--wbits", "4", "--lowrank", "svd", "--rank",
                                  "4", "--lowrank-bits", "8,8"});
  const std::string a = path_of("cli-a.gguf");
  auto r = export_gguf("gguf-lora", "F32", a, q);
  EXPECT_TRUE(r.clean_failure() && r.has(q) && r.has("--drop-branch-act-quant")) << r.output;
  EXPECT_FALSE(fs::exists(a));
  r = export_gguf("gguf-lora", "F32", a, q, {"--drop-branch-act-quant"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.has("lost: the per-token activation quantization of 42 branches")) << r.output;
  EXPECT_TRUE(r.has("42 branches have quantized weights")) << r.output;
  EXPECT_TRUE(r.has("low-rank branches: 42")) << r.output;

  const GgufFile f(a);
  const GgufHeader& h = f.header();
  EXPECT_EQ(h.get_str("general.architecture", a), "llama");
  EXPECT_EQ(h.get_str("general.type", a), "adapter");
  EXPECT_EQ(h.get_str("adapter.type", a), "lora");
  EXPECT_EQ(h.get_float("adapter.lora.alpha", a), 4.0);
  EXPECT_EQ(h.get_int("general.file_type", a), 0);
  ASSERT_EQ(h.tensors.size(), 2u * 6u * 7u);
  const QuantDir qd(q);
  const ModelConfig& c = qd.config();
  int permuted = 0;
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (LinearName n : kAllLinears) {
      const std::string hf =
          "model.layers." + std::to_string(i) + "." + std::string(linear_path(n));
      const std::string gg = gguf_tensor_name(hf + ".weight");
      const LowRankBranch b = qd.load_lowrank(hf);
      const GgufTensorInfo* ta = h.tensor(gg + ".lora_a");
      const GgufTensorInfo* tb = h.tensor(gg + ".lora_b");
      ASSERT_TRUE(ta && tb) << gg;
      // ggml order: lora_a ne = {in, r}, lora_b ne = {r, out} (convert_lora_to_gguf.py's).
      EXPECT_EQ(ta->ne, (std::vector<int64_t>{b.in(), 4})) << gg;
      EXPECT_EQ(tb->ne, (std::vector<int64_t>{4, b.out()})) << gg;
      EXPECT_EQ(ta->type, GgmlType::F32);
      EXPECT_EQ(tb->type, GgmlType::F32);
      const Tensor l1 = b.l1.dequantize();
      Tensor l2 = b.l2.dequantize();
      const int64_t heads = n == LinearName::kQ   ? c.num_heads
                            : n == LinearName::kK ? c.num_kv_heads
                                                  : 0;
      if (heads) {
        const Tensor p = permute_qk_rows(l2, heads, false);
        permuted += std::memcmp(p.data.data(), l2.data.data(), l2.data.size() * 4) != 0;
        l2 = p;
      }
      ASSERT_EQ(f.data(*ta).size(), l1.data.size() * 4);
      ASSERT_EQ(f.data(*tb).size(), l2.data.size() * 4);
      EXPECT_EQ(std::memcmp(f.data(*ta).data(), l1.data.data(), l1.data.size() * 4), 0) << gg;
      EXPECT_EQ(std::memcmp(f.data(*tb).data(), l2.data.data(), l2.data.size() * 4), 0) << gg;
    }
  EXPECT_EQ(permuted, 2 * c.num_layers);  // lora_b of attn_q and attn_k, in every layer

  // F16 factors: each within fp16 rounding of the F32 file's.
  const std::string a16 = path_of("cli-a16.gguf");
  ASSERT_EQ(export_gguf("gguf-lora", "F16", a16, q, {"--drop-branch-act-quant"}).exit_code, 0);
  {
    const GgufFile g(a16);
    EXPECT_EQ(g.header().get_int("general.file_type", a16), 1);
    for (const auto& t : g.header().tensors) {
      ASSERT_EQ(t.type, GgmlType::F16) << t.name;
      std::vector<float> x(size_t(t.numel())), y(x.size());
      gguf_dequantize(t.type, g.data(t), x.data(), t.numel());
      const auto* t32 = h.tensor(t.name);
      ASSERT_TRUE(t32) << t.name;
      gguf_dequantize(t32->type, f.data(*t32), y.data(), t.numel());
      for (size_t k = 0; k < x.size(); ++k)
        ASSERT_NEAR(x[k], y[k], 1e-3 * std::fabs(y[k]) + 1e-7) << t.name << "[" << k << "]";
    }
  }

  // The base: the main layers, with a note that the branches are in the adapter.
  r = export_gguf("gguf", "F32", path_of("cli-base.gguf"), q);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.has("--format gguf-lora")) << r.output;
  // inspect validates the adapter; eval refuses it (it is not a model).
  r = test::run_loaq({"inspect", a});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.has("adapter.lora.alpha")) << r.output;
  r = test::run_loaq({"eval", "--model", a, "--tokenizer", q, "--ppl", "wikitext2"});
  EXPECT_TRUE(r.clean_failure() && r.has(a) && r.has("LoRA adapter")) << r.output;

  // Refusals: no branch; not a quantize output; a type an adapter does not hold; --pure; --dtype;
  // an existing output without --force; an output inside the input.
  const std::string plain = quantize(model, data, "cli-plain", {"--method", "rtn", "--wbits", "4"});
  const std::string o = path_of("cli-o.gguf");
  r = export_gguf("gguf-lora", "F32", o, plain);
  EXPECT_TRUE(r.clean_failure() && r.has(plain) && r.has("no low-rank branch")) << r.output;
  r = export_gguf("gguf-lora", "F32", o, model);
  EXPECT_TRUE(r.clean_failure() && r.has(model)) << r.output;
  r = export_gguf("gguf-lora", "Q4_K_M", o, q, {"--drop-branch-act-quant"});
  EXPECT_TRUE(r.clean_failure() && r.has("--type Q4_K_M")) << r.output;
  r = export_gguf("gguf-lora", "F32", o, q, {"--drop-branch-act-quant", "--pure"});
  EXPECT_TRUE(r.clean_failure() && r.has("--pure")) << r.output;
  r = export_gguf("gguf-lora", "F32", o, q, {"--drop-branch-act-quant", "--dtype", "float16"});
  EXPECT_TRUE(r.clean_failure() && r.has("--dtype")) << r.output;
  EXPECT_FALSE(fs::exists(o));
  r = export_gguf("gguf-lora", "F32", a, q, {"--drop-branch-act-quant"});
  EXPECT_TRUE(r.clean_failure() && r.has("--force")) << r.output;
  r = export_gguf("gguf-lora", "F32", a, q, {"--drop-branch-act-quant", "--force"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = export_gguf("gguf-lora", "F32", q + "/a.gguf", q, {"--drop-branch-act-quant"});
  EXPECT_TRUE(r.clean_failure() && r.has("inside the input")) << r.output;
}

}  // namespace
}  // namespace loaq
