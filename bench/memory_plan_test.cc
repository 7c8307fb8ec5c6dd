// The memory plan (pipeline/memory_plan.h) against the measured peak of a real run: a
// random-weight checkpoint of Llama-3.2-1B's architecture, narrowed (hidden 512, intermediate
// 2048, 2 layers, its real vocabulary and tokenizer), quantized by the `loaq` binary with GPTQ and
// LoaQ; the plan's total must be within 15 % of the peak anonymous memory the run measured
// (report.json "memory").
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "ckpt_presets.h"
#include "io/json_file.h"
#include "random_checkpoint.h"
#include "test_assets.h"

namespace loaq::bench {
namespace {

namespace fs = std::filesystem;

TEST(MemoryPlan, WithinFifteenPercentOfTheMeasuredPeak) {
  LOAQ_REQUIRE_ASSET(tok, "tokenizers/llama3");
  LOAQ_REQUIRE_ASSET(data, "data");
  const fs::path dir = fs::temp_directory_path() / ("loaq-plan-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  RandomCheckpointOptions o;
  o.config = find_ckpt_preset("llama-3.2-1b").config;
  o.set = {{"hidden_size", 512},
           {"intermediate_size", 2048},
           {"num_attention_heads", 8},
           {"num_key_value_heads", 2},
           {"head_dim", 64}};
  o.layers = 2;
  o.tokenizer_dir = tok;
  o.out = (dir / "model").string();
  o.progress = false;
  write_random_checkpoint(o);
  for (const std::string method : {"gptq", "loaq"}) {
    const fs::path out = dir / method;
    const std::string cmd = std::string(LOAQ_BINARY) + " quantize -q --model " + o.out +
                            " --data " + data + " --method " + method +
                            " --wbits 3 --nsamples 8 --seqlen 1024 --chunk-samples 4 --out " +
                            out.string() + " > /dev/null 2>&1";
    const int st = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << cmd;
    const auto mem = read_json_file((out / "report.json").string()).at("memory");
    const double plan = mem.at("plan").at("total").get<double>();
    const double peak = mem.at("peak_anon").get<double>();
    EXPECT_GT(plan, 1e8) << method << ": the plan's terms must dominate the process's own memory";
    EXPECT_LT(std::abs(plan - peak) / peak, 0.15)
        << method << ": plan " << plan / 1048576 << " MiB, measured peak " << peak / 1048576
        << " MiB";
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace loaq::bench
