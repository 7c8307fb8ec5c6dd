#pragma once
// Helpers of the end-to-end tests that check loaq's GGUF files against the real llama.cpp
// (scripts/install-llama-cpp.sh; tests/gguf_*llama_cpp_test.cc): where its tools are, a skip
// without them, one work folder per test process, loaq's own export, and the comparison of two
// GGUF files tensor by tensor. Header only. An includer needs the compile definition
// LOAQ_LLAMA_CPP_BIN (CMakeLists.txt sets it on those tests).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "cli_run.h"
#include "export/export.h"
#include "export/gguf_import.h"
#include "io/checkpoint.h"
#include "io/gguf.h"
#include "model/model.h"
#include "model/weights.h"

namespace loaq::test {

// The folder of llama-quantize, llama-imatrix, llama-perplexity and llama-logits:
// $LOAQ_LLAMA_CPP_BIN, else the CMake cache's LOAQ_LLAMA_CPP_BIN.
inline std::string llama_bin() {
  const char* e = std::getenv("LOAQ_LLAMA_CPP_BIN");
  return e && *e ? e : LOAQ_LLAMA_CPP_BIN;
}

// The files of this process's tests (one folder per process), removed when the tests end.
inline const std::filesystem::path& llama_work_dir() {
  static const std::filesystem::path d = [] {
    auto p =
        std::filesystem::temp_directory_path() / ("loaq-gguf-llama-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p;
  }();
  return d;
}

class RemoveLlamaWorkDir : public testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(llama_work_dir(), ec);
  }
};
// Registered once per test binary, whichever file includes this first.
inline const auto* const kRemoveLlamaWorkDir =
    testing::AddGlobalTestEnvironment(new RemoveLlamaWorkDir);

// Runs llama.cpp's tool `tool` ("llama-quantize") with `args`.
inline CliResult run_llama_tool(const std::string& tool, std::vector<std::string> args) {
  args.insert(args.begin(), llama_bin() + "/" + tool);
  return run_command(std::move(args));
}

// llama.cpp's logits (tools/llama_logits.cc) of the tokens `ids` under the GGUF model `gguf`, with
// the GGUF LoRA adapter `lora` applied when given: ids.size() rows of n_vocab floats.
inline std::vector<float> llama_logits(const std::string& gguf, const std::vector<int32_t>& ids,
                                       const std::string& lora = "") {
  std::string arg;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) arg += ',';
    arg += std::to_string(ids[i]);
  }
  const std::string out = (llama_work_dir() / "logits.f32").string();
  std::vector<std::string> cmd = {
      llama_bin() + "/llama-logits", gguf, "--tokens", arg, "--out", out};
  if (!lora.empty()) {
    cmd.push_back("--lora");
    cmd.push_back(lora);
  }
  const auto r = run_command(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::ifstream f(out, std::ios::binary);
  std::vector<float> v(std::filesystem::file_size(out) / 4);
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4));
  return v;
}

// loaq's GGUF export of `model_dir` at `type` into the work folder as `name`; `pure` applies to a
// quantized type (llama-quantize --pure), `imatrix` is --imatrix (empty: none).
inline std::string loaq_export_gguf(const std::string& model_dir, const std::string& type,
                                    const std::string& name, bool pure,
                                    const std::string& imatrix = "") {
  const std::string out = (llama_work_dir() / name).string();
  ExportOptions o;
  o.format = "gguf";
  o.gguf_type = type;
  o.gguf_pure = pure && type[0] == 'Q';
  o.gguf_imatrix = imatrix;
  o.force = true;
  export_gguf(model_dir, out, o);
  return out;
}

// Two GGUF files hold the same tensors: the same names, and for each the same type (the
// mixture's choice), shape and bytes. Returns how many of them are quantized (not F32).
inline int expect_same_tensors(const std::string& ours, const std::string& theirs) {
  const GgufFile a(ours), b(theirs);
  EXPECT_EQ(a.header().tensors.size(), b.header().tensors.size());
  int quantized = 0;
  for (const auto& ta : a.header().tensors) {
    const auto* tb = b.header().tensor(ta.name);
    EXPECT_NE(tb, nullptr) << ta.name;
    if (!tb) continue;
    EXPECT_EQ(ggml_type_info(ta.type).name, std::string(ggml_type_info(tb->type).name)) << ta.name;
    EXPECT_EQ(ta.ne, tb->ne) << ta.name;
    const auto da = a.data(ta), db = b.data(*tb);
    EXPECT_EQ(da.size(), db.size()) << ta.name;
    if (da.size() != db.size()) continue;
    size_t first = 0;
    while (first < da.size() && da[first] == db[first]) ++first;
    EXPECT_EQ(first, da.size()) << ta.name << " (" << ggml_type_info(ta.type).name
                                << "): first differing byte at " << first << " of " << da.size();
    quantized += ta.type != GgmlType::F32;
  }
  return quantized;
}

// The GGUF file `gguf`, read back by loaq, holds the weights of every linear of the quantize
// output `run` to 1e-6 of the linear's largest magnitude. `visit`, when given, sees each of run's
// weights with its layer and linear.
inline void expect_gguf_holds_run(
    const std::string& gguf, const std::string& run,
    const std::function<void(int64_t, LinearName, const Tensor&)>& visit = {}) {
  const Model m = load_gguf_model(gguf);
  const Checkpoint ck(run);
  for (int64_t i = 0; i < m.config.num_layers; ++i)
    for (LinearName n : kAllLinears) {
      const std::string name =
          "model.layers." + std::to_string(i) + "." + std::string(linear_path(n)) + ".weight";
      const Tensor want = ck.load_f32(name);
      const Tensor& got = m.weights.layers[size_t(i)].linear(n).w;
      ASSERT_EQ(got.shape, want.shape) << name;
      float max_abs = 0, max_diff = 0;
      for (size_t k = 0; k < want.data.size(); ++k) {
        max_abs = std::max(max_abs, std::fabs(want.data[k]));
        max_diff = std::max(max_diff, std::fabs(want.data[k] - got.data[k]));
      }
      EXPECT_LE(max_diff, 1e-6f * max_abs) << name;
      if (visit) visit(i, n, want);
    }
}

}  // namespace loaq::test

// Skips the current test, saying why, when the llama.cpp tools are not installed.
#define LOAQ_REQUIRE_LLAMA_CPP()                                                 \
  if (!std::filesystem::exists(::loaq::test::llama_bin() + "/llama-logits") ||   \
      !std::filesystem::exists(::loaq::test::llama_bin() + "/llama-quantize") || \
      !std::filesystem::exists(::loaq::test::llama_bin() + "/llama-imatrix"))    \
  GTEST_SKIP() << "llama.cpp tools not found in " << ::loaq::test::llama_bin()   \
               << " (run scripts/install-llama-cpp.sh, or set LOAQ_LLAMA_CPP_BIN)"
