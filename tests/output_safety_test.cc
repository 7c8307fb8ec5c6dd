// The output directory never costs the user data (issue 18, items 1-3): `quantize` and `export`
// refuse an output that is, contains or lies inside their input, refuse to replace a file or a
// directory that is not an output of the same kind, and clean up the staging folders that a killed
// run left behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli_run.h"
#include "io/safetensors.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;
using test::run_loaq;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

class OutputSafety : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto src = test::asset("models/stories260K");
    if (!src) GTEST_SKIP() << "asset 'models/stories260K' not found (set LOAQ_ASSETS)";
    root_ = fs::temp_directory_path() /
            ("loaq-output-safety-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    model_ = root_ / "M";
    fs::create_directories(model_);
    for (const char* f :
         {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json"})
      fs::copy_file(fs::path(*src) / f, model_ / f);
    std::ofstream(model_ / "LICENSE") << "a file loaq does not copy\n";
    weights_ = read_all(model_ / "model.safetensors");
  }
  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  test::CliResult quantize(const fs::path& out, bool force) const {
    std::vector<std::string> a = {"quantize", "-q",      "--model", model_.string(), "--method",
                                  "rtn",      "--wbits", "4",       "--out",         out.string()};
    if (force) a.push_back("--force");
    return run_loaq(a);
  }
  // The source model is untouched: its extra file and its weights are still there.
  void expect_model_intact() const {
    EXPECT_TRUE(fs::exists(model_ / "LICENSE"));
    EXPECT_TRUE(read_all(model_ / "model.safetensors") == weights_) << "the weights changed";
  }

  fs::path root_, model_;
  std::string weights_;
};

TEST_F(OutputSafety, QuantizeNeverWritesIntoItsInput) {
  fs::create_symlink(model_, root_ / "link");
  const std::vector<std::pair<fs::path, std::string>> cases = {
      {model_, "lies inside the input"},
      {model_ / "", "lies inside the input"},
      {model_ / "sub", "lies inside the input"},
      {root_ / "link", "lies inside the input"},  // the same directory through a symbolic link
      {root_, "contains the input"}};
  for (const auto& [out, expect] : cases) {
    const auto r = quantize(out, true);
    EXPECT_TRUE(r.clean_failure()) << out << "\n" << r.output;
    EXPECT_TRUE(r.has(expect)) << out << "\n" << r.output;
    expect_model_intact();
  }
  EXPECT_FALSE(fs::exists(model_ / "sub"));
}

TEST_F(OutputSafety, ForceReplacesOnlyALoaqOutput) {
  const fs::path other = root_ / "other";
  fs::create_directories(other);
  std::ofstream(other / "notes.txt") << "mine\n";
  auto r = quantize(other, true);
  EXPECT_TRUE(r.clean_failure()) << r.output;
  EXPECT_TRUE(r.has("is not a loaq quantization output")) << r.output;
  EXPECT_TRUE(fs::exists(other / "notes.txt"));

  // A Hugging Face checkpoint that loaq did not write is not replaced either, even with a
  // report.json.
  const fs::path hf = root_ / "hf";
  fs::copy(model_, hf);
  std::ofstream(hf / "report.json") << "{}\n";
  r = quantize(hf, true);
  EXPECT_TRUE(r.clean_failure()) << r.output;
  EXPECT_TRUE(r.has("producer=loaq")) << r.output;
  EXPECT_TRUE(fs::exists(hf / "LICENSE"));

  // An empty directory and a previous loaq output are replaced.
  const fs::path out = root_ / "out";
  fs::create_directories(out);
  r = quantize(out, true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(out / "report.json"));
  r = quantize(out, true);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(OutputSafety, AFileIsNeverReplacedByADirectory) {
  const fs::path f = root_ / "file.txt";
  std::ofstream(f) << "precious\n";
  for (bool force : {false, true}) {
    const auto r = quantize(f, force);
    EXPECT_TRUE(r.clean_failure()) << r.output;
    EXPECT_TRUE(r.has("is not a directory")) << r.output;
    EXPECT_TRUE(fs::is_regular_file(f));
    EXPECT_EQ(read_all(f), "precious\n");
  }
}

TEST_F(OutputSafety, ExportRefusesItsInputAndOtherKinds) {
  const fs::path q = root_ / "q";
  ASSERT_EQ(quantize(q, false).exit_code, 0);
  const auto quant_state = read_all(q / "quant_state.safetensors");
  auto exp = [&](const fs::path& out, const std::string& format) {
    return run_loaq({"export", "--format", format, "--dtype", "float32", "--force", "--out",
                     out.string(), q.string()});
  };
  for (const fs::path& out : {q, q / "sub", root_}) {
    const auto r = exp(out, "hf");
    EXPECT_TRUE(r.clean_failure()) << out << "\n" << r.output;
    EXPECT_TRUE(r.has("input")) << r.output;
    EXPECT_TRUE(read_all(q / "quant_state.safetensors") == quant_state) << "the state changed";
  }
  // --force over the model directory, over a GPTQ export, over a file: refused.
  auto r = exp(model_, "hf");
  EXPECT_TRUE(r.clean_failure()) << r.output;
  EXPECT_TRUE(r.has("is not a loaq HF export")) << r.output;
  expect_model_intact();
  const fs::path g = root_ / "g";
  fs::create_directories(g);
  write_safetensors((g / "model.safetensors").string(), {}, {{"loaq_export", "gptq"}});
  r = exp(g, "hf");
  EXPECT_TRUE(r.clean_failure()) << r.output;
  EXPECT_TRUE(r.has("loaq_export=hf")) << r.output;
  EXPECT_TRUE(fs::exists(g / "model.safetensors"));
  std::ofstream(root_ / "f") << "x";
  r = exp(root_ / "f", "hf");
  EXPECT_TRUE(r.clean_failure()) << r.output;
  EXPECT_TRUE(r.has("is not a directory")) << r.output;
  // An HF export is replaced by an HF export.
  const fs::path h = root_ / "h";
  ASSERT_EQ(exp(h, "hf").exit_code, 0);
  r = exp(h, "hf");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(h / "model.safetensors"));
}

// Staging folders of processes that no longer run (kill -9) are removed by the next run of the
// same output, with a note; those of a live process, of another host or of another output stay.
TEST_F(OutputSafety, StaleStagingOfDeadProcessesIsCleanedUp) {
  const pid_t dead = test::dead_pid(), live = ::getpid();
  const fs::path out = root_ / "out";
  auto staging = [&](const std::string& role, const std::string& suffix,
                     const std::string& name = "out") {
    const fs::path p = root_ / ("." + name + "." + role + "-" + suffix);
    fs::create_directories(p);
    std::ofstream(p / "model.safetensors") << "half written";
    return p;
  };
  const fs::path legacy = staging("partial", std::to_string(dead));
  const fs::path here = staging("partial", std::to_string(dead) + "@" + host());
  const fs::path alive = staging("partial", std::to_string(live) + "@" + host());
  const fs::path elsewhere = staging("partial", std::to_string(dead) + "@some-other-host");
  const fs::path other_out = staging("partial", std::to_string(dead), "out2");
  const auto r = quantize(out, false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(legacy)) << r.output;
  EXPECT_FALSE(fs::exists(here)) << r.output;
  EXPECT_TRUE(r.has("note: removed '" + legacy.string() + "'")) << r.output;
  EXPECT_TRUE(r.has("no longer running")) << r.output;
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(elsewhere));
  EXPECT_TRUE(fs::exists(other_out));
  EXPECT_TRUE(fs::exists(out / "report.json"));
}

// A run killed between moving the previous output aside and renaming its own into place left the
// only complete output under ".NAME.old-PID": the next run puts it back instead of losing it.
TEST_F(OutputSafety, PreviousOutputMovedAsideIsRestored) {
  const fs::path out = root_ / "out";
  ASSERT_EQ(quantize(out, false).exit_code, 0);
  const fs::path aside = root_ / (".out.old-" + std::to_string(test::dead_pid()) + "@" + host());
  fs::rename(out, aside);
  const auto r = quantize(out, false);  // without --force: the restored output exists
  EXPECT_TRUE(r.clean_failure()) << r.output;
  EXPECT_TRUE(r.has("note: restored")) << r.output;
  EXPECT_TRUE(r.has("exists")) << r.output;
  EXPECT_TRUE(fs::exists(out / "report.json"));
  EXPECT_FALSE(fs::exists(aside));
}

}  // namespace
}  // namespace loaq
