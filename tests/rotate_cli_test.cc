// `loaq quantize --rotate hadamard` end to end on stories260K: the rotated full-precision model
// written by `--method none` evaluates to the original's perplexity and zero-shot log-likelihoods;
// a rotated and quantized checkpoint reloads (online rotation from config.json) with the perplexity
// the run reported; a rotated checkpoint is refused as input to another rotation.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

int run(const std::string& cmd, std::string* out = nullptr) {
  const std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  std::string s;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) s.append(buf, n);
  const int st = pclose(p);
  if (out) *out = s;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

struct TempDir {
  fs::path p;
  TempDir() : p(fs::temp_directory_path() / ("loaq_rtest_" + std::to_string(::getpid()))) {
    fs::remove_all(p);
    fs::create_directories(p);
  }
  ~TempDir() { fs::remove_all(p); }
};

// A short evaluation text (the first 24 kB of WikiText-2 test), to keep the test fast.
std::string short_text(const TempDir& t, const std::string& data) {
  const std::string path = (t.p / "text.txt").string();
  std::ifstream in(data + "/wikitext2/wiki.test.raw", std::ios::binary);
  std::string s(24000, '\0');
  in.read(s.data(), std::streamsize(s.size()));
  s.resize(size_t(in.gcount()));
  std::ofstream(path, std::ios::binary) << s;
  return path;
}

double eval_ppl(const std::string& model, const std::string& text, const std::string& json) {
  std::string log;
  const int rc = run(std::string(LOAQ_BINARY) + " eval -q --model " + model + " --ppl " + text +
                         " --seqlen 128 --json " + json,
                     &log);
  EXPECT_EQ(rc, 0) << log;
  return rc == 0 ? read_json_file(json).at("ppl").begin()->get<double>() : NAN;
}

TEST(RotateCli, RotatedFullPrecisionModelHasTheSamePerplexity) {
  LOAQ_REQUIRE_ASSET(dir, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  TempDir t;
  const std::string bin = LOAQ_BINARY, out = (t.p / "r").string();
  std::string log;
  ASSERT_EQ(run(bin + " quantize -q --model " + dir + " --data " + data +
                    " --method none --rotate hadamard --rotate-seed 3 --out " + out,
                &log),
            0)
      << log;
  const auto cfg = read_json_file(out + "/config.json");
  EXPECT_FALSE(cfg.at("tie_word_embeddings").get<bool>());  // stories260K's head was tied
  EXPECT_EQ(cfg.at("loaq").at("rotation").get<std::string>(), "hadamard");
  EXPECT_TRUE(cfg.at("loaq").at("online_down_rotation").get<bool>());
  const auto report = read_json_file(out + "/report.json");
  EXPECT_EQ(report.at("rotation").at("online_down").get<std::string>(), "hadamard 172");
  EXPECT_EQ(report.at("rotation").at("seed").get<int>(), 3);
  EXPECT_TRUE(report.at("rotation").at("fallback_sizes").empty());
  EXPECT_TRUE(report.at("settings").contains("rotate"));

  const std::string text = short_text(t, data);
  const double ref = eval_ppl(dir, text, (t.p / "a.json").string());
  const double rot = eval_ppl(out, text, (t.p / "b.json").string());
  EXPECT_NEAR(rot / ref, 1.0, 1e-4) << ref << " vs " << rot;
  // The online rotation matters: the same weights without it are a different model.
  auto j = read_json_file(out + "/config.json");
  j["loaq"]["online_down_rotation"] = false;
  const std::string broken = (t.p / "broken").string();
  fs::copy(out, broken);
  std::ofstream(broken + "/config.json") << j.dump(2);
  EXPECT_GT(std::abs(eval_ppl(broken, text, (t.p / "c.json").string()) / ref - 1.0), 1e-3);

  // Zero-shot runs the same rotation-aware forward: every choice's log-likelihood of the five
  // tasks equals the original's; without the online rotation they move far more.
  const auto ll = [&](const std::string& model, const std::string& name) {
    const std::string path = (t.p / name).string();
    std::string out_log;
    EXPECT_EQ(run(bin + " eval -q --threads 1 --model " + model + " --data " + data +
                      " --tasks arc_easy,arc_challenge,piqa,hellaswag,winogrande --limit 8"
                      " --log-samples " +
                      path,
                  &out_log),
              0)
        << out_log;
    std::vector<double> v;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      const auto sample = nlohmann::json::parse(line);
      for (const auto& r : sample.at("resps")) v.push_back(r.at(0));
    }
    EXPECT_FALSE(v.empty()) << path << ": " << out_log;
    return v;
  };
  const auto ll_ref = ll(dir, "ref.jsonl"), ll_rot = ll(out, "rot.jsonl"),
             ll_broken = ll(broken, "broken.jsonl");
  ASSERT_EQ(ll_rot.size(), ll_ref.size());
  ASSERT_EQ(ll_broken.size(), ll_ref.size());
  ASSERT_GE(ll_ref.size(), size_t(5 * 8 * 2));
  double worst = 0, worst_broken = 0;
  for (size_t i = 0; i < ll_ref.size(); ++i) {
    const double scale = std::max(1.0, std::abs(ll_ref[i]));
    worst = std::max(worst, std::abs(ll_rot[i] - ll_ref[i]) / scale);
    worst_broken = std::max(worst_broken, std::abs(ll_broken[i] - ll_ref[i]) / scale);
  }
  EXPECT_LT(worst, 1e-4) << "rotated model's zero-shot log-likelihoods";
  EXPECT_GT(worst_broken, 1e-2) << "without the online rotation";

  // A rotated checkpoint has its norms folded: rotating it again is refused, nothing written.
  EXPECT_EQ(run(bin + " quantize -q --model " + out + " --data " + data +
                    " --method rtn --wbits 4 --rotate hadamard --out " + (t.p / "again").string(),
                &log),
            1)
      << log;
  EXPECT_NE(log.find("already rotated"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(t.p / "again"));
  EXPECT_EQ(run(bin + " quantize -q --model " + dir + " --method none --rotate random --out " +
                    (t.p / "bad").string(),
                &log),
            1);
  EXPECT_NE(log.find("--rotate 'random'"), std::string::npos) << log;
}

// Rotation composes with a quantizer: the written checkpoint reloads (the loader applies the
// online rotation from config.json) with exactly the perplexity the quantize run reported.
TEST(RotateCli, RotatedQuantizedCheckpointReloads) {
  LOAQ_REQUIRE_ASSET(dir, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  TempDir t;
  const std::string bin = LOAQ_BINARY, out = (t.p / "q").string(), text = short_text(t, data);
  std::string log;
  ASSERT_EQ(run(bin + " quantize -q --model " + dir + " --data " + data +
                    " --method gptq --wbits 3 --nsamples 4 --seqlen 128 --rotate hadamard --eval " +
                    text + " --out " + out,
                &log),
            0)
      << log;
  const auto report = read_json_file(out + "/report.json");
  EXPECT_TRUE(report.at("timings").contains("rotate"));
  const std::string j = (t.p / "e.json").string();
  EXPECT_EQ(eval_ppl(out, text, j), report.at("ppl").begin()->get<double>());
}

}  // namespace
}  // namespace loaq
