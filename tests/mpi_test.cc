// Under mpirun (2 and 4 ranks on this 2-core machine, oversubscribed): the collectives of src/dist
// against one process bit for bit (tests/mpi/dist_check.cc, R = 1..4, uneven splits), `loaq eval`
// equal to the single process in every bit of its JSON (perplexity and zero-shot), and a rank's
// error ending the whole job at once with its message printed once. Skipped without MPI.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "io/json_file.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int rc = 0;
  std::string out, err;
  double seconds = 0;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs `cmd` through the shell with stdout and stderr captured.
Outcome run(const std::string& cmd) {
  const fs::path dir = fs::temp_directory_path();
  // Per process: ctest runs the tests of this file in parallel processes.
  const std::string stem = "loaq_mpi_test." + std::to_string(getpid());
  const fs::path o = dir / (stem + ".out"), e = dir / (stem + ".err");
  const auto t0 = std::chrono::steady_clock::now();
  const int st = std::system((cmd + " > " + o.string() + " 2> " + e.string()).c_str());
  Outcome r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  r.out = slurp(o);
  r.err = slurp(e);
  fs::remove(o);
  fs::remove(e);
  return r;
}

// "mpirun <flags> -n R " with one OpenMP thread per rank, or empty when there is no MPI.
std::string mpirun(int ranks) {
  const std::string launcher = LOAQ_MPIRUN;
  if (launcher.empty()) return "";
  return "OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive " + launcher + " -n " + std::to_string(ranks) +
         " ";
}

#define LOAQ_REQUIRE_MPI()                                                                   \
  if (std::string(LOAQ_MPIRUN).empty())                                                      \
    GTEST_SKIP() << "not an MPI build (LOAQ_MPI=OFF or no mpirun found): MPI tests skipped"; \
  if (!fs::exists(std::string(LOAQ_MPIRUN).substr(0, std::string(LOAQ_MPIRUN).find(' '))))   \
  GTEST_SKIP() << "mpirun not found: MPI tests skipped"

// The single process the ranks are compared with, on one thread as each rank is: OpenBLAS 0.3.21's
// Haswell/Zen kernels (this project's AMD EPYC machines) give sgemm and ssyrk products different
// bits on 1 and 2 threads (README "Running on several processes"), so bit identity holds between
// runs with the same threads per process.
std::string one_process() {
  return std::string("OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ") + LOAQ_BINARY;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(Mpi, CollectivesEqualOneProcess) {
  LOAQ_REQUIRE_MPI();
  for (int ranks = 1; ranks <= 4; ++ranks) {
    const Outcome r = run(mpirun(ranks) + LOAQ_DIST_CHECK);
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("dist_check: ok R=" + std::to_string(ranks)), std::string::npos) << r.out;
  }
}

// The JSON without what may differ: timings and the "distributed" section.
nlohmann::ordered_json comparable(nlohmann::ordered_json j) {
  j.erase("distributed");
  for (auto& [k, v] : j.at("details").items()) v.erase("seconds");
  if (j.contains("tasks"))
    for (auto& [k, v] : j.at("tasks").items()) v.erase("seconds");
  return j;
}

TEST(Mpi, EvalEqualsOneProcessExactly) {
  LOAQ_REQUIRE_MPI();
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  // 13 windows in batches of 2 (7 batches: uneven over 2 and 4 ranks) of a short text (so that
  // tokenizing it is cheap); 30 examples per task.
  const fs::path dir = fs::temp_directory_path();
  const std::string tag = std::to_string(getpid());
  const std::string text = (dir / ("loaq_mpi_eval." + tag + ".txt")).string();
  std::ofstream(text) << slurp(data + "/wikitext2/wiki.test.raw").substr(0, 20000);
  const std::string args = " eval -q --model " + model + " --data " + data + " --ppl " + text +
                           " --seqlen 64 --max-windows 13 --batch-tokens 128"
                           " --tasks arc_easy,winogrande --limit 30 --json ";
  const std::string one = (dir / ("loaq_mpi_eval_1." + tag + ".json")).string();
  const Outcome r1 = run(one_process() + args + one);
  ASSERT_EQ(r1.rc, 0) << r1.err;
  const auto want = read_json_file(one);
  EXPECT_EQ(want.at("distributed").at("ranks"), 1);
  for (const int ranks : {2, 4}) {
    const std::string path =
        (dir / ("loaq_mpi_eval_" + std::to_string(ranks) + "." + tag + ".json")).string();
    fs::remove(path);
    const Outcome r = run(mpirun(ranks) + LOAQ_BINARY + args + path);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(count(r.out, "dataset "), 1u) << "rank 0 alone prints:\n" << r.out;
    EXPECT_EQ(count(r.out, "Acc "), 1u) << r.out;
    const auto got = read_json_file(path);
    EXPECT_EQ(comparable(got).dump(), comparable(want).dump()) << ranks << " ranks";
    EXPECT_EQ(got.at("ppl").at(text).get<double>(), want.at("ppl").at(text).get<double>());
    EXPECT_EQ(got.at("distributed").at("ranks"), ranks);
    EXPECT_GT(got.at("distributed").at("bytes").get<int64_t>(), 0);
    fs::remove(path);
  }
  fs::remove(one);
  fs::remove(text);
}

TEST(Mpi, RankErrorEndsTheJobWithItsMessageOnce) {
  LOAQ_REQUIRE_MPI();
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  // Rank 1 fails after its first batch; rank 0 goes on and then waits for rank 1's windows.
  const std::string eval = std::string(LOAQ_BINARY) + " eval -q --model " + model + " --ppl " +
                           data + "/ptb/ptb.test.txt --seqlen 64 --max-windows 64" +
                           " --batch-tokens 64";
  const Outcome r = run("LOAQ_TEST_FAIL_RANK=1 " + mpirun(2) + eval);
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_LT(r.seconds, 30.0);
  EXPECT_EQ(count(r.err, "test failure injected at ppl"), 1u) << r.err;
  EXPECT_EQ(count(r.err, "loaq: error: rank 1/2: test failure injected"), 1u) << r.err;
  EXPECT_EQ(r.out.find("ptb.test.txt "), std::string::npos) << "no result after a failure";

  // A rank that dies (SIGKILL) ends the job too.
  const Outcome d = run("LOAQ_TEST_FAIL_RANK=1 LOAQ_TEST_FAIL_MODE=die " + mpirun(2) + eval);
  EXPECT_NE(d.rc, 0) << d.err;
  EXPECT_LT(d.seconds, 30.0);

  // An error every rank hits (bad input) ends the job too; it is printed by rank 0 and, only when
  // another rank reaches it more than a second before rank 0 (best effort), by that rank.
  const Outcome b =
      run(mpirun(2) + LOAQ_BINARY + " eval -q --model /nonexistent/model --ppl wikitext2");
  EXPECT_EQ(b.rc, 1) << b.err;
  EXPECT_LT(b.seconds, 30.0);
  EXPECT_GE(count(b.err, "loaq: error: rank "), 1u) << b.err;
  EXPECT_LE(count(b.err, "loaq: error: rank "), 2u) << b.err;
  EXPECT_NE(b.err.find("/nonexistent/model"), std::string::npos) << b.err;

  // A rank's error in the middle of a quantization layer ends the job at once, printed once,
  // and leaves no output that looks complete.
  const fs::path qdir = fs::temp_directory_path() / ("loaq_mpi_fault." + std::to_string(getpid()));
  fs::remove_all(qdir.string() + ".partial");
  const Outcome f = run("LOAQ_TEST_FAIL_RANK=1 LOAQ_TEST_FAIL_AT=quantize-layer-1 " + mpirun(2) +
                        LOAQ_BINARY + " quantize -q --model " + model +
                        " --method gptq --wbits 4 --nsamples 4 --seqlen 32 --chunk-samples 1" +
                        " --out " + qdir.string());
  EXPECT_EQ(f.rc, 1) << f.err;
  EXPECT_LT(f.seconds, 30.0);
  EXPECT_EQ(count(f.err, "loaq: error: rank 1/2: test failure injected at quantize-layer-1"), 1u)
      << f.err;
  EXPECT_FALSE(fs::exists(qdir));
  fs::remove_all(qdir.string() + ".partial");

  // Commands that do not split their work yet refuse to run on several ranks, said once.
  const Outcome q = run(mpirun(2) + LOAQ_BINARY + " inspect " + model);
  EXPECT_EQ(q.rc, 1) << q.err;
  EXPECT_EQ(count(q.err, "does not run on several MPI ranks yet"), 1u) << q.err;
}

// The bytes of a file.
std::string bytes_of(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// `loaq quantize` on R ranks writes the same model and integer state, bit for bit, as one process:
// 7 windows in 4 chunks, so 3 and 4 ranks split them unevenly and 4 ranks hold one chunk each.
TEST(Mpi, QuantizeIsBitIdenticalOnOneToFourRanks) {
  LOAQ_REQUIRE_MPI();
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(data, "data");
  const fs::path dir = fs::temp_directory_path() / ("loaq_mpi_quant." + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const std::string method : {"gptq", "loaq"}) {
    const std::string args = " quantize -q --model " + model + " --data " + data + " --method " +
                             method +
                             " --wbits 2 --nsamples 7 --seqlen 128 --chunk-samples 2 --out ";
    const fs::path one = dir / (method + "-1");
    const Outcome r1 = run(one_process() + args + one.string());
    ASSERT_EQ(r1.rc, 0) << r1.err;
    for (const int ranks : {2, 3, 4}) {
      const fs::path out = dir / (method + "-" + std::to_string(ranks));
      const Outcome r = run(mpirun(ranks) + LOAQ_BINARY + args + out.string());
      ASSERT_EQ(r.rc, 0) << r.err;
      EXPECT_EQ(count(r.out, "wrote "), 1u) << "rank 0 alone prints:\n" << r.out;
      for (const char* f : {"quant_state.safetensors", "model.safetensors", "config.json"})
        EXPECT_TRUE(bytes_of(one / f) == bytes_of(out / f))
            << method << " on " << ranks << " ranks: " << f << " differs";
      const auto rep = read_json_file((out / "report.json").string());
      EXPECT_EQ(rep.at("distributed").at("ranks"), ranks);
      EXPECT_EQ(rep.at("distributed").at("per_layer").size(), 6u);  // llama-mini-7m's layers
      EXPECT_GT(rep.at("distributed").at("per_layer").at(0).at("bytes").get<int64_t>(), 0);
      const auto rep1 = read_json_file((one / "report.json").string());
      for (size_t i = 0; i < rep1.at("linears").size(); ++i)
        EXPECT_EQ(rep.at("linears").at(i).at("rel_objective").get<double>(),
                  rep1.at("linears").at(i).at("rel_objective").get<double>());
    }
  }
  fs::remove_all(dir);
}

// Low-rank branches (issue 14) on 3 ranks: the mean |x| of lqer summed along the ranks, qera's
// basis of the chained H, the owner's branch broadcast — the same bytes as one process.
TEST(Mpi, QuantizeWithBranchesIsBitIdenticalOnThreeRanks) {
  LOAQ_REQUIRE_MPI();
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(data, "data");
  const fs::path dir = fs::temp_directory_path() / ("loaq_mpi_lowrank." + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const std::string lr : {"lqer --lowrank-bits 8,8", "qera --lowrank-bits 4,8"}) {
    const std::string args = " quantize -q --model " + model + " --data " + data +
                             " --method gptq --wbits 2 --nsamples 7 --seqlen 64 --chunk-samples 2"
                             " --rank 8 --force --lowrank " +
                             lr + " --out ";
    const fs::path one = dir / "one", three = dir / "three";
    const Outcome r1 = run(one_process() + args + one.string());
    ASSERT_EQ(r1.rc, 0) << r1.err;
    const Outcome r3 = run(mpirun(3) + LOAQ_BINARY + args + three.string());
    ASSERT_EQ(r3.rc, 0) << r3.err;
    for (const char* f : {"quant_state.safetensors", "model.safetensors", "config.json"})
      EXPECT_TRUE(bytes_of(one / f) == bytes_of(three / f)) << lr << ": " << f << " differs";
    const auto a = read_json_file((one / "report.json").string());
    const auto b = read_json_file((three / "report.json").string());
    for (size_t i = 0; i < a.at("linears").size(); ++i)
      EXPECT_EQ(a.at("linears").at(i).at("lowrank").at("rel_objective_without"),
                b.at("linears").at(i).at("lowrank").at("rel_objective_without"));
  }
  fs::remove_all(dir);
}

// `loaq sweep` on 2 ranks: the same perplexities, to the bit, as one process.
TEST(Mpi, SweepEqualsOneProcess) {
  LOAQ_REQUIRE_MPI();
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  const fs::path dir = fs::temp_directory_path() / ("loaq_mpi_sweep." + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string text = (dir / "text.txt").string();
  std::ofstream(text) << slurp(data + "/wikitext2/wiki.test.raw").substr(0, 20000);
  const std::string args = " sweep -q --model " + model + " --data " + data +
                           " --methods gptq --wbits 3 --seeds 0,1 --nsamples 4 --seqlen 64"
                           " --chunk-samples 1 --eval " +
                           text + " --json ";
  const Outcome r1 = run(one_process() + args + (dir / "one.json").string());
  ASSERT_EQ(r1.rc, 0) << r1.err;
  const Outcome r2 = run(mpirun(2) + LOAQ_BINARY + args + (dir / "two.json").string());
  ASSERT_EQ(r2.rc, 0) << r2.err;
  EXPECT_EQ(count(r2.out, "(perplexity, seqlen"), 1u) << "rank 0 alone prints:\n" << r2.out;
  const auto one = read_json_file((dir / "one.json").string());
  const auto two = read_json_file((dir / "two.json").string());
  ASSERT_EQ(one.at("runs").size(), 2u);  // two seeds
  ASSERT_EQ(two.at("runs").size(), one.at("runs").size());
  for (size_t i = 0; i < one.at("runs").size(); ++i)
    EXPECT_EQ(two.at("runs").at(i).at("ppl").dump(), one.at("runs").at(i).at("ppl").dump()) << i;
  fs::remove_all(dir);
}

// A run on 2 ranks whose rank 1 is killed (SIGKILL) in layer 3 resumes on 2 ranks to the same
// bits as an uninterrupted single process; a resume on another number of ranks is refused.
TEST(Mpi, QuantizeResumesOnTwoRanksAfterAKill) {
  LOAQ_REQUIRE_MPI();
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(data, "data");
  const fs::path dir = fs::temp_directory_path() / ("loaq_mpi_resume." + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string args = " quantize -q --model " + model + " --data " + data +
                           " --method loaq --wbits 2 --nsamples 8 --seqlen 128 --chunk-samples 2";
  const fs::path one = dir / "one", two = dir / "two";
  ASSERT_EQ(run(one_process() + args + " --out " + one.string()).rc, 0);
  const Outcome k =
      run("LOAQ_TEST_FAIL_RANK=1 LOAQ_TEST_FAIL_AT=quantize-layer-3 "
          "LOAQ_TEST_FAIL_MODE=die " +
          mpirun(2) + LOAQ_BINARY + args + " --out " + two.string());
  EXPECT_NE(k.rc, 0) << k.err;
  EXPECT_LT(k.seconds, 60.0);
  ASSERT_TRUE(fs::exists(two.string() + ".partial/resume/state.json")) << k.err;
  EXPECT_EQ(read_json_file(two.string() + ".partial/resume/state.json").at("layers_done"), 3);
  const Outcome wrong = run(mpirun(4) + LOAQ_BINARY + args + " --resume --out " + two.string());
  EXPECT_EQ(wrong.rc, 1);
  EXPECT_NE(wrong.err.find("written by a run on 2 rank(s) and this run has 4"), std::string::npos)
      << wrong.err;
  const Outcome r = run(mpirun(2) + LOAQ_BINARY + args + " --resume --out " + two.string());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("resuming"), std::string::npos) << r.err;
  for (const char* f : {"quant_state.safetensors", "model.safetensors"})
    EXPECT_TRUE(bytes_of(one / f) == bytes_of(two / f)) << f << " differs after the resume";
  fs::remove_all(dir);
}

// A build without MPI, started as one of several processes (the launcher's environment says so),
// says that it is not an MPI build and exits 1 (every process does: none runs the job).
TEST(Mpi, NonMpiBuildRefusesSeveralProcesses) {
  if (LOAQ_MPI_BUILD) GTEST_SKIP() << "an MPI build: this checks the build without MPI";
  for (const std::string env : {"OMPI_COMM_WORLD_SIZE=2", "PMI_SIZE=4", "PMIX_RANK=1"}) {
    const Outcome r = run(env + " " + LOAQ_BINARY + " eval --model /nonexistent --ppl x");
    EXPECT_EQ(r.rc, 1) << env;
    EXPECT_NE(r.err.find("this loaq was built without MPI"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace loaq
