// Sharded `loaq quantize` outputs end to end. llama-mini-7m is quantized (GPTQ 4-bit, 4 windows of
// 64 tokens) once into single files and once with a --max-shard-size so small that the model and
// the integer state become one shard per layer with their indexes. The sharded run must evaluate
// to exactly the same perplexity, export to byte-identical files in every format, pass `loaq
// inspect`, and a damaged set of shards must be refused with an error naming the file, exit
// status 1 and nothing written.
//
// Three exported files name their source: GGUF's and the GGUF adapter's general.name (the quantize
// output's folder name) and the PEFT adapter's base_model_name_or_path (the model the run
// quantized). Both runs are written to folders of the same name ("q") with the same source model,
// so these files must be byte-identical too: every file is compared.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_helpers.h"
#include "cli_run.h"
#include "io/json_file.h"
#include "io/safetensors_set.h"
#include "test_assets.h"

namespace loaq {
namespace {

namespace fs = std::filesystem;
using test::run_loaq;

struct Runs {
  fs::path one, sharded;  // <root>/a/q (single files), <root>/b/q (shards)
};

// Quantizes `model` twice with `extra` arguments: into root/a/q, and with a 1 MB shard size into
// root/b/q.
Runs quantize_both(const fs::path& root, const std::string& model, const std::string& data,
                   const std::vector<std::string>& extra) {
  Runs r{root / "a" / "q", root / "b" / "q"};
  for (const auto& [out, shard] : {std::pair{r.one, "5GB"}, std::pair{r.sharded, "1MB"}}) {
    fs::create_directories(out.parent_path());
    std::vector<std::string> a = {
        "quantize", "-q", "--model",          model, "--data",   data, "--method",  "gptq",
        "--wbits",  "4",  "--nsamples",       "4",   "--seqlen", "64", "--threads", "1",
        "--out",    out,  "--max-shard-size", shard};
    a.insert(a.end(), extra.begin(), extra.end());
    const auto q = run_loaq(a);
    EXPECT_EQ(q.exit_code, 0) << q.output;
  }
  return r;
}

// The layout of the sharded run: one model shard per decoder layer and one for the embedding,
// norm and head; one integer-state shard per layer; no single files.
void expect_sharded(const fs::path& q, int layers) {
  EXPECT_FALSE(fs::exists(q / "model.safetensors"));
  EXPECT_FALSE(fs::exists(q / "quant_state.safetensors"));
  const SafetensorsSet model(q.string(), "model"), state(q.string(), "quant_state");
  EXPECT_TRUE(model.sharded());
  EXPECT_EQ(model.files().size(), size_t(layers + 1));
  EXPECT_TRUE(state.sharded());
  EXPECT_EQ(state.files().size(), size_t(layers));
  const auto rep = read_json_file((q / "report.json").string());
  EXPECT_EQ(rep.at("settings").at("output").at("max_shard_bytes"), 1000000) << rep.dump();
}

// Both sets hold the same tensors with the same bytes.
void expect_same_tensors(const fs::path& a, const fs::path& b, const std::string& stem) {
  const SafetensorsSet x(a.string(), stem), y(b.string(), stem);
  ASSERT_EQ(x.tensors().size(), y.tensors().size()) << stem;
  for (size_t i = 0; i < x.tensors().size(); ++i) {
    const TensorInfo &s = *x.tensors()[i], &t = *y.tensors()[i];
    ASSERT_EQ(s.name, t.name);
    EXPECT_EQ(s.dtype, t.dtype) << s.name;
    EXPECT_EQ(s.shape, t.shape) << s.name;
    const auto p = x.bytes(s), q = y.bytes(t);
    EXPECT_TRUE(p.size() == q.size() && std::equal(p.begin(), p.end(), q.begin())) << s.name;
  }
  EXPECT_EQ(x.metadata(), y.metadata()) << stem;
}

// A regular file, or every file below a directory: the same names and the same bytes.
void expect_same_files(const fs::path& a, const fs::path& b) {
  if (fs::is_regular_file(a)) {
    EXPECT_TRUE(test::read_all(a) == test::read_all(b)) << a << " and " << b << " differ";
    return;
  }
  const auto names = test::files_below(a);
  EXPECT_EQ(names, test::files_below(b)) << a << " and " << b;
  EXPECT_FALSE(names.empty()) << a;
  for (const auto& n : names)
    EXPECT_TRUE(test::read_all(a / n) == test::read_all(b / n))
        << n << " of " << a << " and " << b << " differ";
}

// Exports both runs in `format` (beside them, as q.<format>) and compares the results.
void expect_same_export(const Runs& r, const std::string& format,
                        const std::vector<std::string>& extra = {}) {
  const std::string suffix = format.starts_with("gguf") ? format + ".gguf" : format;
  std::vector<fs::path> outs;
  for (const auto& q : {r.one, r.sharded}) {
    outs.push_back(q.parent_path() / ("q." + suffix));
    std::vector<std::string> a = {"export", "-q", "--format", format, "--out", outs.back(), q};
    a.insert(a.end(), extra.begin(), extra.end());
    const auto e = run_loaq(a);
    ASSERT_EQ(e.exit_code, 0) << format << ": " << e.output;
  }
  expect_same_files(outs[0], outs[1]);
}

// `loaq eval` of `q` on `text` (seqlen 64).
double eval_ppl(const fs::path& q, const std::string& text, const fs::path& json) {
  const auto e = run_loaq({"eval", "-q", "--model", q, "--ppl", text, "--seqlen", "64", "--threads",
                           "1", "--json", json});
  EXPECT_EQ(e.exit_code, 0) << e.output;
  if (e.exit_code != 0) return -1;
  return read_json_file(json.string()).at("ppl").begin()->get<double>();
}

// The first 8 kB of WikiText-2 test.
std::string short_text(const std::string& data, const fs::path& root) {
  std::ifstream in(data + "/wikitext2/wiki.test.raw", std::ios::binary);
  std::string buf(8000, '\0');
  in.read(buf.data(), std::streamsize(buf.size()));
  buf.resize(size_t(in.gcount()));
  const fs::path f = root / "eval.txt";
  test::write_all(f, buf);
  return f.string();
}

void expect_eval_equal(const Runs& r, const std::string& text, const fs::path& root) {
  const double one = eval_ppl(r.one, text, root / "one.json");
  const double sharded = eval_ppl(r.sharded, text, root / "sharded.json");
  EXPECT_GT(one, 1.0);
  EXPECT_EQ(one, sharded);
}

void expect_inspect_ok(const fs::path& q) {
  const auto i = run_loaq({"inspect", q});
  EXPECT_EQ(i.exit_code, 0) << i.output;
  EXPECT_TRUE(i.has("loaq quantization output")) << i.output;
  EXPECT_TRUE(i.has("validation: ok")) << i.output;
}

// A refusal: exit status 1, an error naming each of `parts`, and no output (nor a staging folder
// of it) left beside it.
void expect_refused(const test::CliResult& r, const std::vector<std::string>& parts,
                    const fs::path& out) {
  EXPECT_TRUE(r.clean_failure()) << r.output;
  for (const auto& p : parts) EXPECT_TRUE(r.has(p)) << "lacks '" << p << "': " << r.output;
  EXPECT_FALSE(fs::exists(out)) << out;
  for (const auto& e : fs::directory_iterator(out.parent_path()))
    EXPECT_EQ(e.path().filename().string().find(out.filename().string() + "."), std::string::npos)
        << e.path();
}

// A copy of the sharded run to damage.
fs::path damaged_copy(const Runs& r, const std::string& name) {
  const fs::path d = r.sharded.parent_path().parent_path() / name;
  fs::copy(r.sharded, d, fs::copy_options::recursive);
  return d;
}

TEST(ShardedOutput, GptqRunEvaluatesExportsAndInspectsAsOneFile) {
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(data, "data");
  test::TempDir t("sharded_gptq");
  const Runs r = quantize_both(t.p, model, data, {});
  expect_sharded(r.sharded, 6);
  EXPECT_TRUE(fs::exists(r.one / "model.safetensors"));
  EXPECT_FALSE(read_json_file((r.one / "report.json").string()).at("settings").contains("output"));
  expect_same_tensors(r.one, r.sharded, "model");
  expect_same_tensors(r.one, r.sharded, "quant_state");
  expect_eval_equal(r, short_text(data, t.p), t.p);
  for (const char* f : {"gptq", "hf", "gguf"}) expect_same_export(r, f);
  expect_inspect_ok(r.sharded);

  // A missing model shard: refused by export, eval and inspect, naming the index and the shard.
  const fs::path d = damaged_copy(r, "missing");
  fs::remove(d / "model-00003-of-00007.safetensors");
  const std::string index = (d / "model.safetensors.index.json").string();
  const std::vector<std::string> why = {index, "'model-00003-of-00007.safetensors'",
                                        "does not exist"};
  for (const char* f : {"gptq", "hf"}) {
    const fs::path out = t.p / (std::string("missing.") + f);
    expect_refused(run_loaq({"export", "--format", f, "--out", out, d}), why, out);
  }
  const fs::path gguf = t.p / "missing.gguf";
  expect_refused(run_loaq({"export", "--format", "gguf", "--out", gguf, d}), why, gguf);
  const auto e = run_loaq({"eval", "-q", "--model", d, "--ppl", "wikitext2", "--data", data});
  EXPECT_TRUE(e.clean_failure() && e.has(index)) << e.output;
  const auto i = run_loaq({"inspect", d});
  EXPECT_EQ(i.exit_code, 1) << i.output;
  EXPECT_TRUE(i.has(index) && i.has("does not exist")) << i.output;
}

TEST(ShardedOutput, LowRankRunEvaluatesExportsAndInspectsAsOneFile) {
  LOAQ_REQUIRE_ASSET(model, "models/llama-mini-7m");
  LOAQ_REQUIRE_ASSET(data, "data");
  test::TempDir t("sharded_lowrank");
  const Runs r = quantize_both(t.p, model, data, {"--lowrank", "svd", "--rank", "8"});
  expect_sharded(r.sharded, 6);
  expect_same_tensors(r.one, r.sharded, "quant_state");
  // The branches run in the evaluation: it reads them from the quant_state shards.
  expect_eval_equal(r, short_text(data, t.p), t.p);
  for (const char* f : {"peft", "gguf-lora", "gguf"}) expect_same_export(r, f);
  expect_same_export(r, "hf", {"--merge-lowrank"});
  expect_inspect_ok(r.sharded);

  // The index names a tensor that its shard does not hold: refused, naming the index, the tensor
  // and the shard.
  const fs::path d = damaged_copy(r, "moved");
  const fs::path index = d / "quant_state.safetensors.index.json";
  auto j = read_json_file(index.string());
  const std::string name = "model.layers.0.mlp.down_proj.lowrank.bits";
  ASSERT_EQ(j["weight_map"][name], "quant_state-00001-of-00006.safetensors");
  j["weight_map"][name] = "quant_state-00002-of-00006.safetensors";
  test::write_all(index, j.dump(2));
  const std::vector<std::string> why = {index.string(), "'" + name + "'",
                                        "'quant_state-00002-of-00006.safetensors'",
                                        "no such tensor"};
  for (const char* f : {"peft", "hf", "gptq"}) {
    const fs::path out = t.p / (std::string("moved.") + f);
    expect_refused(run_loaq({"export", "--format", f, "--out", out, d}), why, out);
  }
  const fs::path lora = t.p / "moved.gguf";
  expect_refused(run_loaq({"export", "--format", "gguf-lora", "--out", lora, d}), why, lora);
  const auto e = run_loaq({"eval", "-q", "--model", d, "--ppl", "wikitext2", "--data", data});
  EXPECT_TRUE(e.clean_failure() && e.has(index.string())) << e.output;
  const auto i = run_loaq({"inspect", d});
  EXPECT_EQ(i.exit_code, 1) << i.output;
  EXPECT_TRUE(i.has(index.string()) && i.has("no such tensor")) << i.output;
}

}  // namespace
}  // namespace loaq
