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
  const Outcome r1 =
      run(std::string("OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive ") + LOAQ_BINARY + args + one);
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

  // Commands that do not split their work yet refuse to run on several ranks.
  const Outcome q = run(mpirun(2) + LOAQ_BINARY + " quantize --model " + model +
                        " --method rtn --wbits 4 --out /tmp/loaq_mpi_never");
  EXPECT_EQ(q.rc, 1) << q.err;
  EXPECT_EQ(count(q.err, "does not run on several MPI ranks yet"), 1u) << q.err;
  EXPECT_FALSE(fs::exists("/tmp/loaq_mpi_never"));
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
