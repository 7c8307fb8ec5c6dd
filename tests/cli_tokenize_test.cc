// `loaq tokenize` end to end, and a model directory that holds only a tokenizer.json: `loaq eval`
// must pick it up and, with the tokenizer.json transformers' LlamaConverter makes from the model's
// SentencePiece file, reproduce the golden perplexity token for token.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "io/checkpoint.h"
#include "io/json_file.h"
#include "test_assets.h"
#include "text/calibration.h"
#include "text/datasets.h"
#include "text/tokenizer.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;

int run(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

// Runs `cmd` and returns its stdout.
std::string capture(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return out;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

class TempDir {
 public:
  explicit TempDir(const std::string& tag)
      : path_(fs::temp_directory_path() / (tag + "_" + std::to_string(getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The tokenizer.json transformers' LlamaConverter writes for a SentencePiece BPE model: the pieces
// as vocabulary; as merges, every split l + r of a piece into two pieces, ordered by the piece's
// score (highest first; ties by the ids of l and r); Prepend "▁" + Replace " " -> "▁";
// byte_fallback; TemplateProcessing "<s> $A"; the Replace / ByteFallback / Fuse / Strip decoder.
nlohmann::ordered_json llama_converter(const std::string& model_file) {
  sentencepiece::SentencePieceProcessor sp;
  EXPECT_TRUE(sp.Load(model_file).ok());
  const int n = sp.GetPieceSize();
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  std::map<std::string, int> ids;
  for (int i = 0; i < n; ++i) {
    vocab[sp.IdToPiece(i)] = i;
    ids[sp.IdToPiece(i)] = i;
  }
  struct M {
    float score;
    int l, r;
    std::string a, b;
  };
  std::vector<M> merges;
  for (int i = 0; i < n; ++i) {
    const std::string p = sp.IdToPiece(i);
    std::vector<M> local;
    for (size_t k = 1; k < p.size(); ++k) {
      if ((static_cast<unsigned char>(p[k]) & 0xC0) == 0x80) continue;  // not a char boundary
      const std::string a = p.substr(0, k), b = p.substr(k);
      if (ids.count(a) && ids.count(b)) local.push_back({sp.GetScore(i), ids[a], ids[b], a, b});
    }
    std::sort(local.begin(), local.end(),
              [](const M& x, const M& y) { return std::tie(x.l, x.r) < std::tie(y.l, y.r); });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(),
                   [](const M& x, const M& y) { return x.score > y.score; });
  nlohmann::ordered_json m = nlohmann::ordered_json::array();
  for (const M& x : merges) m.push_back(x.a + " " + x.b);

  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (int i = 0; i < 3; ++i)
    added.push_back({{"id", i},
                     {"content", sp.IdToPiece(i)},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  const std::string meta = "\xE2\x96\x81";
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", meta}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", meta}}}}}},
          {"pre_tokenizer", nullptr},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single",
             {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"pair", nlohmann::ordered_json::array()},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", meta}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", "<unk>"},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", true},
            {"byte_fallback", true},
            {"vocab", vocab},
            {"merges", m}}}};
}

void write(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

TEST(CliTokenize, ConvertedTokenizerJsonMatchesSentencePiece) {
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(c4, "data/c4/c4-validation.00000-of-00008.first1025.jsonl");
  TempDir dir("loaq_tokjson");
  write(dir.path() / "tokenizer.json", llama_converter(model + "/tokenizer.model").dump());
  const auto hf = load_tokenizer((dir.path() / "tokenizer.json").string());
  const auto sp = load_tokenizer(model + "/tokenizer.model");
  const std::string text = c4_text(c4);
  const auto a = hf->encode(text), b = sp->encode(text);
  ASSERT_EQ(a.size(), b.size());
  size_t diff = 0;
  while (diff < a.size() && a[diff] == b[diff]) ++diff;
  EXPECT_EQ(diff, a.size()) << "first difference at token " << diff;
}

TEST(CliTokenize, EvalUsesTokenizerJsonOfModelDirectory) {
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(golden, "golden/ppl.json");
  LOAQ_REQUIRE_ASSET(windows, "golden/ppl_windows/llama-mini-7m__c4__seqlen256.json");
  LOAQ_REQUIRE_ASSET(data, "data");
  // The model directory with its tokenizer.model replaced by the converted tokenizer.json.
  TempDir dir("loaq_jsononly");
  for (const char* f : {"config.json", "model.safetensors", "tokenizer_config.json"})
    fs::create_symlink(fs::path(model) / f, dir.path() / f);
  write(dir.path() / "tokenizer.json", llama_converter(model + "/tokenizer.model").dump());
  const auto out = dir.path() / "eval.json";
  constexpr int kWindows = 16;
  const std::string cmd = std::string(LOAQ_BINARY) + " eval -q --model " + dir.path().string() +
                          " --data " + data + " --ppl c4 --seqlen 256 --max-windows " +
                          std::to_string(kWindows) + " --json " + out.string() + " > /dev/null";
  ASSERT_EQ(run(cmd), 0) << cmd;
  const auto r = read_json_file(out.string());
  const auto all = read_json_file(golden);
  const auto& want = all.at("llama-mini-7m/c4/seqlen256");
  EXPECT_EQ(r.at("settings").at("tokenizer").get<std::string>(),
            (dir.path() / "tokenizer.json").string());
  EXPECT_TRUE(r.at("settings").at("bos").get<bool>());  // the post-processor adds <s>
  // Every token of the whole C4 text is the reference's: same count, same per-window perplexity.
  EXPECT_EQ(r.at("details").at("c4").at("n_tokens_encoded"), want.at("n_tokens_encoded"));
  const auto nll = read_json_file(windows).at("window_mean_nll").get<std::vector<double>>();
  ASSERT_GE(nll.size(), size_t(kWindows));
  double mean = 0;
  for (int w = 0; w < kWindows; ++w) mean += nll[size_t(w)] / kWindows;
  const double ppl = std::exp(mean);
  EXPECT_NEAR(r.at("ppl").at("c4").get<double>(), ppl, 1e-4 * ppl);
}

// `loaq tokenize --json` on golden texts (given through --file, byte for byte) reproduces the
// reference ids, token strings and decoded text; --special adds what the post-processor adds.
TEST(CliTokenize, JsonOutputMatchesGolden) {
  LOAQ_REQUIRE_ASSET(texts_path, "golden/tokenizers/texts.jsonl");
  TempDir dir("loaq_tokcli");
  std::map<std::string, std::string> texts;
  for (const auto& line : [&] {
         std::vector<std::string> lines;
         std::istringstream in(read_file(texts_path));
         for (std::string l; std::getline(in, l);) lines.push_back(l);
         return lines;
       }()) {
    const auto r = nlohmann::json::parse(line);
    texts[r.at("id").get<std::string>()] = r.at("text").get<std::string>();
  }
  for (const std::string name : {"llama2", "mistral7b", "llama3", "qwen3"}) {
    const auto tok_dir = test::asset("tokenizers/" + name);
    const auto golden = test::asset("golden/tokenizers/" + name + ".jsonl");
    if (!tok_dir || !golden) continue;
    std::istringstream in(read_file(*golden));
    int checked = 0;
    for (std::string line; std::getline(in, line);) {
      const auto g = nlohmann::json::parse(line);
      const std::string id = g.at("id").get<std::string>();
      // Two WikiText lines, NFD accents, literal <s> and </s>, chat markup with special tokens.
      static const std::set<std::string> kEdge = {"edge-039", "edge-084", "edge-085", "edge-086"};
      if (!kEdge.count(id.substr(0, 8)) && checked >= 2) continue;
      ++checked;
      const fs::path text_file = dir.path() / "text.txt";
      write(text_file, texts.at(id));
      // --special only where it can differ from the golden ids (the first text, chat markup).
      const bool both = checked == 1 || id.rfind("edge-086", 0) == 0;
      for (const bool special : both ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
        int status = -1;
        const std::string cmd = std::string(LOAQ_BINARY) + " tokenize --tokenizer " + *tok_dir +
                                " --file " + quote(text_file.string()) + " --json" +
                                (special ? " --special" : "");
        const auto out = nlohmann::json::parse(capture(cmd, &status));
        ASSERT_EQ(status, 0) << cmd;
        const auto want_ids = g.at(special ? "ids_with_special" : "ids");
        EXPECT_EQ(out.at("ids"), want_ids) << name << " " << id;
        if (!special) {
          EXPECT_EQ(out.at("pieces"), g.at("tokens")) << name << " " << id;
          EXPECT_EQ(out.at("decoded"), g.at("decoded")) << name << " " << id;
        }
      }
    }
    EXPECT_EQ(checked, 6) << name;
  }
}

TEST(CliTokenize, PlainIdsAndErrors) {
  LOAQ_REQUIRE_ASSET(llama2, "tokenizers/llama2");
  const std::string bin = LOAQ_BINARY;
  int status = -1;
  // The directory holds both files: tokenizer.json wins, and its template adds <s> = 1.
  EXPECT_EQ(
      capture(bin + " tokenize --tokenizer " + llama2 + " --text 'Hello world' --special", &status),
      "1 15043 3186\n");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(
      capture(bin + " tokenize --tokenizer " + llama2 + "/tokenizer.model --text '<s>'", &status),
      "529 29879 29958\n");  // SentencePiece reads <s> as text
  EXPECT_EQ(capture(bin + " tokenize --tokenizer " + llama2 + " --text '<s>'", &status), "1\n");
  EXPECT_EQ(run(bin + " tokenize --tokenizer /no/such/dir --text x > /dev/null 2>&1"), 1);
  EXPECT_NE(run(bin + " tokenize --tokenizer " + llama2 + " > /dev/null 2>&1"), 0);
  EXPECT_NE(run(bin + " tokenize --text x > /dev/null 2>&1"), 0);
  EXPECT_NE(run(bin + " tokenize --model " + llama2 + " --tokenizer " + llama2 +
                " --text x > /dev/null 2>&1"),
            0);
  // A tokenizer.json that is not JSON: the error names the file.
  TempDir dir("loaq_tokbad");
  write(dir.path() / "tokenizer.json", "{\"model\": ");
  const std::string err =
      capture(bin + " tokenize --model " + dir.path().string() + " --text x 2>&1", &status);
  EXPECT_EQ(status, 1);
  EXPECT_NE(err.find((dir.path() / "tokenizer.json").string()), std::string::npos) << err;
}

// `loaq calib`: the text of the windows `loaq quantize` draws. Re-tokenized, it gives those
// windows' ids up to the seams (a window boundary falls inside a word).
TEST(CliTokenize, CalibWritesTheQuantizeWindowsAsText) {
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(data, "data");
  const std::string bin = LOAQ_BINARY;
  TempDir dir("loaq_calib");
  const std::string txt = (dir.path() / "calib.txt").string();
  int status = -1;
  const std::string said = capture(bin + " calib --model " + model + " --data " + data +
                                       " --nsamples 8 --seqlen 64 --seed 3 --out " + txt + " 2>&1",
                                   &status);
  ASSERT_EQ(status, 0) << said;
  EXPECT_NE(said.find("8 windows of 64 tokens"), std::string::npos) << said;

  const Checkpoint ckpt(model);
  const auto tok = load_model_tokenizer(model, ckpt.config());
  CalibConfig c;
  c.nsamples = 8;
  c.seqlen = 64;
  c.seed = 3;
  const CalibSet set = sample_calibration(*tok, c, data);
  const std::vector<int32_t> again = tok->encode_with_special(read_file(txt), false);
  // Each window on its own round-trips; the whole stream within a few seam tokens.
  for (int64_t w = 0; w < set.nsamples; ++w) {
    const std::span<const int32_t> ids(set.ids.data() + w * 64, 64);
    const std::string piece = tok->decode(ids);
    EXPECT_NE(read_file(txt).find(piece), std::string::npos) << "window " << w;
  }
  EXPECT_NEAR(double(again.size()), 8.0 * 64, 8.0 * 64 * 0.05);
  // The same seed, the same bytes; another seed, other windows.
  const std::string other = (dir.path() / "other.txt").string();
  ASSERT_EQ(run(bin + " calib --model " + model + " --data " + data +
                " --nsamples 8 --seqlen 64 --seed 4 --out " + other + " > /dev/null"),
            0);
  EXPECT_NE(read_file(other), read_file(txt));
  // Longer than the model's context: a clear error, nothing written.
  const std::string err =
      capture(bin + " calib --model " + model + " --data " + data + " --seqlen 4096 --out " +
                  (dir.path() / "x.txt").string() + " 2>&1",
              &status);
  EXPECT_EQ(status, 1) << err;
  EXPECT_NE(err.find("exceeds the model's context of 2048"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir.path() / "x.txt"));
}

}  // namespace
}  // namespace loaq
