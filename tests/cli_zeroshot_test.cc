// `loaq eval --tasks` end to end: the JSON it writes (per-task acc / acc_norm / stderr / n, the
// paper's Acc) agrees with the golden predictions, --ppl adds perplexity to the same object, and a
// malformed record in any task's file stops the run with exit status 1 and a message naming the
// file and line, or is skipped and counted with --skip-bad.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct RunResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

RunResult run(const std::string& cmd) {
  RunResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return r;
}

// Accuracy counts of the golden default (BOS) predictions over the first n examples.
std::pair<int64_t, int64_t> golden_counts(const std::string& path, int64_t n) {
  std::ifstream in(path);
  std::string line;
  int64_t acc = 0, acc_norm = 0;
  for (int64_t i = 0; i < n && std::getline(in, line); ++i) {
    const json g = json::parse(line);
    const auto label = g.at("label").get<int64_t>();
    acc += g.at("pred").get<int64_t>() == label;
    acc_norm += !g.at("pred_norm").is_null() && g.at("pred_norm").get<int64_t>() == label;
  }
  return {acc, acc_norm};
}

TEST(CliZeroshot, JsonMatchesGoldenPredictions) {
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  LOAQ_REQUIRE_ASSET(golden, "golden/zeroshot/stories260K");
  LOAQ_REQUIRE_ASSET(data, "data");
  const auto out = fs::temp_directory_path() / "loaq_cli_zeroshot_test.json";
  fs::remove(out);
  const std::string base = std::string(LOAQ_BINARY) + " eval -q --model " + model + " --data " +
                           data + " --json " + out.string();
  const auto r = run(base + " --tasks arc_challenge,winogrande --limit 20");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("arc_challenge"), std::string::npos) << r.output;
  const auto j = read_json_file(out.string());
  EXPECT_FALSE(j.contains("ppl"));  // --tasks without --ppl: tasks only
  EXPECT_TRUE(j.at("settings").at("bos").get<bool>());
  const auto [ac, acn] = golden_counts(golden + "/arc_challenge.jsonl", 20);
  const auto [wc, wcn] = golden_counts(golden + "/winogrande.jsonl", 20);
  const json& arc = j.at("tasks").at("arc_challenge");
  EXPECT_EQ(arc.at("n").get<int64_t>(), 20);
  EXPECT_NEAR(arc.at("acc").get<double>(), double(ac) / 20, 1e-12);
  EXPECT_NEAR(arc.at("acc_norm").get<double>(), double(acn) / 20, 1e-12);
  const double p = double(acn) / 20;
  EXPECT_NEAR(arc.at("acc_norm_stderr").get<double>(), std::sqrt(p * (1 - p) / 19), 1e-12);
  const json& wino = j.at("tasks").at("winogrande");
  EXPECT_NEAR(wino.at("acc").get<double>(), double(wc) / 20, 1e-12);
  EXPECT_TRUE(wino.at("acc_norm").is_null());
  EXPECT_EQ(wcn, 0);
  // The paper's Acc: arc_challenge acc_norm and winogrande acc.
  EXPECT_NEAR(j.at("acc_avg").get<double>(), (double(acn) / 20 + double(wc) / 20) / 2, 1e-12);

  // With --ppl as well, both parts land in the same object.
  fs::remove(out);
  const auto text = fs::temp_directory_path() / "loaq_cli_zeroshot_text.txt";
  std::string words;
  for (int i = 0; i < 200; ++i) words += "Once upon a time there was a little dog. ";
  std::ofstream(text) << words;
  const auto r2 =
      run(base + " --tasks winogrande --limit 4 --ppl " + text.string() + " --seqlen 64");
  ASSERT_EQ(r2.status, 0) << r2.output;
  const auto j2 = read_json_file(out.string());
  fs::remove(text);
  EXPECT_TRUE(j2.at("ppl").contains(text.string()));
  EXPECT_EQ(j2.at("tasks").at("winogrande").at("n").get<int64_t>(), 4);
  fs::remove(out);
}

// A copy of the five tasks' files with their first records, one of them malformed.
struct BadData {
  fs::path dir = fs::temp_directory_path() / "loaq_cli_zeroshot_bad";
  BadData() {
    fs::remove_all(dir);
    for (const char* d : {"arc", "piqa", "hellaswag", "winogrande"})
      fs::create_directories(dir / d);
  }
  ~BadData() { fs::remove_all(dir); }
  void write(const std::string& rel, const std::string& text) const {
    std::ofstream(dir / rel, std::ios::binary) << text;
  }
};

const std::string kArcOk =
    R"({"id":"a","question":{"stem":"What is hot?","choices":[{"text":"fire","label":"A"},)"
    R"({"text":"ice","label":"B"}]},"answerKey":"A"})";
const std::string kWinoOk =
    R"({"qID":"q","sentence":"Tom gave Bob a gift because _ was kind.","option1":"Tom",)"
    R"("option2":"Bob","answer":"1"})";

void write_good(const BadData& d) {
  d.write("arc/ARC-Easy-Test.jsonl", kArcOk + "\n" + kArcOk + "\n");
  d.write("arc/ARC-Challenge-Test.jsonl", kArcOk + "\n" + kArcOk + "\n");
  d.write("piqa/valid.jsonl",
          std::string(R"({"goal":"Open a jar.","sol1":"Twist the lid.","sol2":"Eat the lid."})") +
              "\n" + R"({"goal":"Dry hands.","sol1":"Use a towel.","sol2":"Use water."})" + "\n");
  d.write("piqa/valid-labels.lst", "0\n0\n");
  d.write("hellaswag/hellaswag_val_full.txt",
          "Cooking: A man cuts onions. he\n0\nchops them.\nflies.\nsings.\nsleeps.\n"
          "Running: A girl runs. she\n1\nswims.\nwins the race.\nreads.\ncooks.\n");
  d.write("winogrande/dev.jsonl", kWinoOk + "\n" + kWinoOk + "\n");
}

TEST(CliZeroshot, MalformedRecordNamesFileAndLine) {
  LOAQ_REQUIRE_ASSET(model, "models/stories260K");
  BadData d;
  write_good(d);
  const std::string base = std::string(LOAQ_BINARY) + " eval -q --model " + model + " --data " +
                           d.dir.string() + " --tasks ";
  // Positive control: the good files evaluate.
  ASSERT_EQ(run(base + "arc_easy,arc_challenge,piqa,hellaswag,winogrande").status, 0);

  struct Case {
    std::string task, file, text, where;  // where: "file:line" expected in the message
  };
  const std::vector<Case> cases = {
      {"arc_easy", "arc/ARC-Easy-Test.jsonl",
       kArcOk + "\n\n" +
           R"({"id":"b","question":{"stem":"Q?","choices":[{"text":"x","label":"A"},)"
           R"({"text":"y","label":"B"}]},"answerKey":"E"})" +
           "\n",
       "ARC-Easy-Test.jsonl:3"},
      {"arc_challenge", "arc/ARC-Challenge-Test.jsonl",
       kArcOk + "\n" + R"({"id":"b","answerKey":"A"})" + "\n", "ARC-Challenge-Test.jsonl:2"},
      {"arc_challenge", "arc/ARC-Challenge-Test.jsonl", kArcOk + "\n{not json\n",
       "ARC-Challenge-Test.jsonl:2"},
      {"piqa", "piqa/valid-labels.lst", "0\n2\n", "valid-labels.lst:2"},
      {"piqa", "piqa/valid.jsonl",
       std::string(R"({"goal":"g","sol1":"a"})") + "\n" + R"({"goal":"g","sol1":"a","sol2":"b"})" +
           "\n",
       "valid.jsonl:1"},
      {"hellaswag", "hellaswag/hellaswag_val_full.txt",
       "C: a. he\n0\na.\nb.\nc.\nd.\nC: b. she\n7\na.\nb.\nc.\nd.\n", "hellaswag_val_full.txt:8"},
      {"hellaswag", "hellaswag/hellaswag_val_full.txt",
       "C: a. he\n0\na.\nb.\nc.\nd.\nC: b.\n1\na.\n", "hellaswag_val_full.txt:7"},
      {"winogrande", "winogrande/dev.jsonl",
       kWinoOk + "\n" +
           R"({"sentence":"No blank here.","option1":"a","option2":"b","answer":"1"})" + "\n",
       "dev.jsonl:2"},
      {"winogrande", "winogrande/dev.jsonl",
       kWinoOk + "\n" + R"({"sentence":"A _ b.","option1":"a","option2":"b","answer":"3"})" + "\n",
       "dev.jsonl:2"},
  };
  const auto out = fs::temp_directory_path() / "loaq_cli_zeroshot_bad.json";
  for (const auto& c : cases) {
    write_good(d);
    d.write(c.file, c.text);
    const auto r = run(base + c.task);
    EXPECT_EQ(r.status, 1) << c.task << ": " << r.output;
    EXPECT_NE(r.output.find("error"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(c.where), std::string::npos) << c.where << " not in: " << r.output;
    // --skip-bad: the record is skipped and counted, the good one evaluated.
    fs::remove(out);
    const auto s = run(base + c.task + " --skip-bad --json " + out.string());
    ASSERT_EQ(s.status, 0) << c.task << ": " << s.output;
    EXPECT_NE(s.output.find("skipped 1"), std::string::npos) << s.output;
    const auto j = read_json_file(out.string());
    EXPECT_EQ(j.at("tasks").at(c.task).at("skipped").get<int64_t>(), 1) << c.where;
    EXPECT_EQ(j.at("tasks").at(c.task).at("n").get<int64_t>(), 1) << c.where;
  }
  fs::remove(out);
  // A labels file that does not match the records is not skippable.
  write_good(d);
  d.write("piqa/valid-labels.lst", "0\n");
  EXPECT_EQ(run(base + "piqa --skip-bad").status, 1);
  // An unknown task is an error.
  EXPECT_EQ(run(base + "boolq").status, 1);
}

}  // namespace
}  // namespace loaq
