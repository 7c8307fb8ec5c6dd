// `loaq bench run` / `loaq bench report` end to end on stories260K: a 2 methods × 2 bits × 2 seeds
// grid killed (SIGKILL) after its second job and rerun, a failing job retried without stopping
// the others, invalid combinations dropped, the report's table against the jobs' own results.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli_run.h"
#include "test_assets.h"

namespace fs = std::filesystem;

namespace loaq::test {
namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

class Bench : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto model = asset("models/stories260K");
    const auto wiki = asset("data/wikitext2/wiki.test.raw");
    if (!model || !wiki) GTEST_SKIP() << "stories260K or wikitext2 not found (set LOAQ_ASSETS)";
    dir_ = fs::temp_directory_path() /
           ("loaq_bench_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // A small evaluation text keeps each job under a second.
    spit(dir_ / "small.txt", slurp(*wiki).substr(0, 12000));
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  // An experiment on stories260K with `quantize` as its quantize block.
  fs::path experiment(const std::string& name, const std::string& quantize,
                      const std::string& seeds = "[0, 1]") {
    const fs::path p = dir_ / (name + ".yaml");
    spit(p, "name: " + name + "\nout: " + (dir_ / ("out-" + name)).string() +
                "\nmodels: [stories260K]\nseeds: " + seeds + "\nquantize: " + quantize +
                "\neval: {ppl: [" + (dir_ / "small.txt").string() +
                "], seqlen: 64}\n"
                "report:\n  tables: [{name: t1, kind: methods, side_by_side: wbits}]\n");
    return p;
  }
  static std::map<std::string, nlohmann::json> results(const fs::path& out) {
    std::map<std::string, nlohmann::json> r;
    if (!fs::exists(out / "jobs")) return r;
    for (const auto& e : fs::directory_iterator(out / "jobs"))
      if (fs::exists(e.path() / "result.json"))
        r[e.path().filename().string()] = nlohmann::json::parse(slurp(e.path() / "result.json"));
    return r;
  }
  fs::path dir_;
};

const std::string kGrid =
    "{method: [gptq, loaq], wbits: [2, 3], nsamples: 8, seqlen: 64, chunk-samples: 4}";

TEST_F(Bench, KilledDriverResumesAndEqualsAnUninterruptedRun) {
  const fs::path exp = experiment("grid", kGrid);
  // The uninterrupted run.
  const fs::path ref = dir_ / "ref";
  const CliResult a =
      run_loaq({"bench", "run", exp.string(), "--out", ref.string(), "--threads", "1", "-q"});
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_TRUE(a.has("8 jobs, 0 finished earlier (skipped), 8 to run")) << a.output;
  const auto ref_results = results(ref);
  ASSERT_EQ(ref_results.size(), 8u);

  // The same, killed with SIGKILL once two jobs have finished.
  const fs::path out = dir_ / "killed";
  std::vector<std::string> args = {LOAQ_BINARY,  "bench",     "run", exp.string(), "--out",
                                   out.string(), "--threads", "1",   "-q"};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, (dir_ / "killed.log").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (results(out).size() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  const auto before = results(out);
  ASSERT_GE(before.size(), 2u);
  ASSERT_LT(before.size(), 8u) << "the run ended before it was killed";
  std::map<std::string, std::string> bytes_before;
  for (const auto& [h, j] : before) bytes_before[h] = slurp(out / "jobs" / h / "result.json");

  const CliResult b =
      run_loaq({"bench", "run", exp.string(), "--out", out.string(), "--threads", "1", "-q"});
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_TRUE(b.has("8 jobs, " + std::to_string(before.size()) + " finished earlier (skipped), " +
                    std::to_string(8 - before.size()) + " to run"))
      << b.output;
  // The finished jobs were not run again: their result.json is unchanged.
  for (const auto& [h, s] : bytes_before) EXPECT_EQ(slurp(out / "jobs" / h / "result.json"), s);
  const auto after = results(out);
  ASSERT_EQ(after.size(), 8u);
  for (const auto& [h, j] : after) {
    ASSERT_TRUE(ref_results.count(h)) << "job " << h << " is not in the uninterrupted grid";
    EXPECT_EQ(j["status"], "ok");
    EXPECT_EQ(j["settings"], ref_results.at(h)["settings"]);
    // Same metrics; timings and memory differ between runs.
    for (const char* m : {"small"})
      EXPECT_EQ(j["metrics"][m].get<double>(), ref_results.at(h)["metrics"][m].get<double>())
          << h << " " << m;
  }
}

TEST_F(Bench, FailingJobIsRetriedReportedAndDoesNotStopTheOthers) {
  const fs::path exp = experiment(
      "fail", "{method: gptq, wbits: 2, grid: [minmax, bogus], nsamples: 8, seqlen: 64}", "[0]");
  const fs::path out = dir_ / "out-fail";
  const CliResult a = run_loaq({"bench", "run", exp.string(), "--retry", "1", "-q"});
  EXPECT_EQ(a.exit_code, 1) << a.output;
  EXPECT_TRUE(a.has("retry  gptq grid=bogus")) << a.output;
  EXPECT_TRUE(a.has("FAILED  gptq grid=bogus")) << a.output;
  EXPECT_TRUE(a.has("failed jobs (logs in")) << a.output;
  EXPECT_TRUE(a.has("1 ok, 1 failed")) << a.output;
  const auto r = results(out);
  ASSERT_EQ(r.size(), 2u);
  int ok = 0;
  for (const auto& [h, j] : r) {
    if (j["status"] == "ok") {
      ++ok;
      EXPECT_EQ(j["attempts"], 1);
    } else {
      EXPECT_EQ(j["attempts"], 2);
      EXPECT_EQ(j["failed_step"], "quantize");
      EXPECT_NE(j["error"].get<std::string>().find("exit code 1: loaq: error: --grid 'bogus'"),
                std::string::npos)
          << j;
    }
  }
  EXPECT_EQ(ok, 1);
  // A rerun skips the finished job and tries the failed one again.
  const CliResult b = run_loaq({"bench", "run", exp.string(), "-q"});
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_TRUE(b.has("2 jobs, 1 finished earlier (skipped), 1 to run")) << b.output;
  EXPECT_TRUE(b.has("(attempt 3)")) << b.output;
}

TEST_F(Bench, DryRunListsJobsAndDroppedCombinationsWithTheReason) {
  const fs::path exp = experiment(
      "dry", "{method: [gptq, loaq], wbits: 2, group: [-1, 16], static-groups: true, alpha: 0.5}",
      "[0]");
  const CliResult r = run_loaq({"bench", "run", exp.string(), "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.has("dry: 2 jobs")) << r.output;
  EXPECT_TRUE(r.has("dropped  gptq group=-1: static-groups needs a group size (group > 0)"))
      << r.output;
  EXPECT_TRUE(r.has("--method loaq --wbits 2 --group 16 --static-groups --alpha 0.5")) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "out-dry")) << "a dry run writes nothing";
  // A bad experiment file: the file, the key, what is wrong; exit status 1.
  const fs::path bad = experiment("bad", "{method: gptq, wbitz: 2}");
  const CliResult e = run_loaq({"bench", "run", bad.string()});
  EXPECT_TRUE(e.clean_failure()) << e.output;
  EXPECT_TRUE(e.has(bad.string() + ":5: quantize.wbitz: unknown quantize option")) << e.output;
}

TEST_F(Bench, ReportTableMatchesTheJobsResults) {
  const fs::path exp =
      experiment("rep", "{method: [gptq, loaq], wbits: 2, nsamples: 8, seqlen: 64}");
  const fs::path out = dir_ / "out-rep";
  const CliResult a = run_loaq({"bench", "run", exp.string(), "--jobs", "2", "-q", "--no-report"});
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const fs::path docs = dir_ / "docs";
  const CliResult r = run_loaq({"bench", "report", out.string(), "--docs", docs.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string md = slurp(docs / "rep-t1.md");
  EXPECT_EQ(md, slurp(out / "tables" / "t1.md"));
  // Hand-computed mean and sample sd of each method's two seeds.
  std::map<std::string, std::vector<double>> v;
  for (const auto& [h, j] : results(out))
    v[j["settings"]["method"].get<std::string>()].push_back(j["metrics"]["small"].get<double>());
  ASSERT_EQ(v.size(), 2u);
  std::map<std::string, double> mean;
  for (const auto& [m, x] : v) {
    ASSERT_EQ(x.size(), 2u);
    mean[m] = (x[0] + x[1]) / 2;
    const double sd = std::fabs(x[0] - x[1]) / std::sqrt(2.0);
    const std::string cell = fmt::format("{:.2f} ± {:.2f}", mean[m], sd);
    EXPECT_NE(md.find(cell), std::string::npos) << m << ": " << cell << "\n" << md;
  }
  const std::string best = mean["gptq"] < mean["loaq"] ? "gptq" : "loaq";
  EXPECT_NE(md.find(fmt::format("| {} | **{:.2f}", best == "gptq" ? "GPTQ" : "LoaQ", mean[best])),
            std::string::npos)
      << md;
  const std::string csv = slurp(out / "results.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);  // header + 4 jobs
  EXPECT_TRUE(fs::exists(out / "tables" / "t1.tex"));
  EXPECT_TRUE(nlohmann::json::parse(slurp(out / "results.json"))["jobs"].size() == 4);
}

// --archive keeps finished results across machines: a run on a fresh output folder takes them
// from the archive instead of rerunning, and the report is the same; a result filed under another
// job's hash is refused.
TEST_F(Bench, ArchivedResultsAreRestoredOnAFreshOutputFolder) {
  const fs::path exp =
      experiment("arch", "{method: [gptq, loaq], wbits: 2, nsamples: 8, seqlen: 64}", "[0]");
  const fs::path archive = dir_ / "runs" / "arch";
  const CliResult a = run_loaq({"bench", "run", exp.string(), "--out", (dir_ / "a").string(),
                                "--archive", archive.string(), "-q"});
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const auto first = results(dir_ / "a");
  ASSERT_EQ(first.size(), 2u);
  for (const auto& [h, j] : first)
    EXPECT_EQ(nlohmann::json::parse(slurp(archive / (h + ".json"))), j);

  const CliResult b = run_loaq({"bench", "run", exp.string(), "--out", (dir_ / "b").string(),
                                "--archive", archive.string(), "-q"});
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_TRUE(b.has("2 jobs, 2 finished earlier (skipped; 2 from the archive")) << b.output;
  EXPECT_TRUE(b.has("0 to run")) << b.output;
  EXPECT_EQ(results(dir_ / "b"), first);
  EXPECT_EQ(slurp(dir_ / "b" / "tables" / "t1.md"), slurp(dir_ / "a" / "tables" / "t1.md"));

  // Every result records the numerics it was measured with; an archived result of other BLAS
  // kernels or another thread count is not used: that job runs again and replaces it.
  const std::string h0 = first.begin()->first, h1 = std::next(first.begin())->first;
  for (const auto& [h, j] : first) {
    EXPECT_TRUE(j["environment"]["blas_kernels"].is_string()) << j.dump(1);
    EXPECT_FALSE(j["environment"]["blas_kernels"].get<std::string>().empty()) << j.dump(1);
    EXPECT_GE(j["environment"]["threads"].get<int>(), 1) << j.dump(1);
  }
  {
    auto other = nlohmann::json::parse(slurp(archive / (h1 + ".json")));
    other["environment"]["blas_kernels"] = "SomeOtherCpu";
    other["metrics"]["c4"] = 1.0;  // a value this run cannot give
    std::ofstream(archive / (h1 + ".json")) << other.dump(2);
  }
  const CliResult d = run_loaq({"bench", "run", exp.string(), "--out", (dir_ / "d").string(),
                                "--archive", archive.string(), "-q"});
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_TRUE(d.has("2 jobs, 1 finished earlier (skipped; 1 from the archive")) << d.output;
  EXPECT_TRUE(d.has("1 archived result(s) not used: measured with SomeOtherCpu kernels"))
      << d.output;
  const auto rerun = results(dir_ / "d").at(h1)["metrics"];
  int perplexities = 0;
  for (const auto& [k, v] : first.at(h1)["metrics"].items())
    if (k != "quant_seconds" && k != "quant_minutes" && k != "peak_rss_gib") {
      EXPECT_EQ(rerun[k], v) << k;
      ++perplexities;
    }
  EXPECT_GE(perplexities, 1) << rerun.dump(1);
  EXPECT_EQ(nlohmann::json::parse(slurp(archive / (h1 + ".json")))["environment"],
            first.at(h1)["environment"]);

  // A result under the wrong name.
  fs::copy_file(archive / (h0 + ".json"), archive / (h1 + ".json"),
                fs::copy_options::overwrite_existing);
  const CliResult c = run_loaq({"bench", "run", exp.string(), "--out", (dir_ / "c").string(),
                                "--archive", archive.string(), "-q"});
  EXPECT_EQ(c.exit_code, 1) << c.output;
  EXPECT_TRUE(c.has(h1 + ".json: field 'hash' is '" + h0 + "'")) << c.output;
}

TEST_F(Bench, TuneChoosesFromTheGridWithGptqAsACandidate) {
  const fs::path out = dir_ / "tune";
  const CliResult r = run_loaq(
      {"bench",        "tune",   "--model",     "stories260K", "--wbits",           "2",
       "--nsamples",   "8",      "--seqlen",    "64",          "--heldout-windows", "8",
       "--alpha-step", "0.5",    "--beta-step", "1",           "--no-refine",       "--out",
       out.string(),   "--jobs", "2",           "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(slurp(out / "tune.json"));
  // GPTQ, α ∈ {0, 0.5, 1} at β = 0, then β = 1 at the best α.
  ASSERT_EQ(j["candidates"].size(), 5u) << j.dump(1);
  EXPECT_EQ(j["candidates"][0]["method"], "gptq");
  double best = 1e300;
  for (const auto& c : j["candidates"]) {
    ASSERT_TRUE(c["ok"].get<bool>()) << c;
    best = std::min(best, c["mean"].get<double>());
    if (c["method"] == "loaq") {
      const double a = c["alpha"].get<double>();
      EXPECT_TRUE(a == 0 || a == 0.5 || a == 1) << c;
    }
  }
  EXPECT_EQ(j["best"]["mean"].get<double>(), best);
  EXPECT_EQ(j["cost"]["jobs_run"], 5);
  EXPECT_TRUE(r.has("choice: ")) << r.output;
  // Rerun: every candidate is reused from its job folder.
  const CliResult again =
      run_loaq({"bench",        "tune", "--model",     "stories260K", "--wbits",           "2",
                "--nsamples",   "8",    "--seqlen",    "64",          "--heldout-windows", "8",
                "--alpha-step", "0.5",  "--beta-step", "1",           "--no-refine",       "--out",
                out.string(),   "-q"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(nlohmann::json::parse(slurp(out / "tune.json"))["cost"]["jobs_run"], 0);
}

}  // namespace
}  // namespace loaq::test
