// loaq_make_checkpoint: a random-weight Hugging Face checkpoint with a real model's config.json and
// tokenizer, sharded as the Hub's repositories are, for measuring loaq on the shapes users bring.
//
//   loaq_make_checkpoint --preset llama-3-8b --out /work/ckpts/llama-3-8b [--layers N] [--seed S]
//                        [--dtype bf16|f16|f32] [--shard-size 5GB] [--set KEY=JSON ...]
//                        [--tokenizer DIR|none] [--threads N] [--force]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "ckpt_presets.h"
#include "core/env.h"
#include "core/error.h"
#include "core/memory.h"
#include "export/shards.h"
#include "random_checkpoint.h"

namespace {

std::string assets_dir() {
  if (const char* e = std::getenv("LOAQ_ASSETS"); e && *e) return e;
  return (std::filesystem::path(LOAQ_SOURCE_DIR) / ".." / "shared").lexically_normal().string();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace loaq;
  CLI::App app{"Writes a random-weight Hugging Face checkpoint with a real model's config.json"};
  std::string preset, dtype = "bf16", shard_size = "5GB", tokenizer;
  std::vector<std::string> sets;
  bench::RandomCheckpointOptions o;
  int threads = 0;
  std::string known;
  for (const auto& p : bench::ckpt_presets()) known += (known.empty() ? "" : ", ") + p.name;
  app.add_option("--preset", preset, "Model: " + known)->required();
  app.add_option("--out", o.out, "Output directory")->required();
  app.add_option("--layers", o.layers, "num_hidden_layers (default: the model's)");
  app.add_option("--seed", o.seed, "Seed of the weights (default 0)");
  app.add_option("--dtype", dtype, "bf16 (default), f16 or f32");
  app.add_option("--shard-size", shard_size,
                 "Largest shard, as transformers' max_shard_size (default 5GB)");
  app.add_option("--set", sets,
                 "Override a config.json field: KEY=JSON (e.g. hidden_size=256), repeatable");
  app.add_option("--tokenizer", tokenizer,
                 "Folder with tokenizer.json (default: $LOAQ_ASSETS/tokenizers/<the model's>); "
                 "'none': no tokenizer");
  app.add_option("--threads", threads, "Threads generating weights (default: all cores)");
  app.add_flag("--force", o.force, "Replace an existing --out");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const auto& p = bench::find_ckpt_preset(preset);
    o.config = p.config;
    if (dtype == "bf16")
      o.dtype = DType::BF16;
    else if (dtype == "f16")
      o.dtype = DType::F16;
    else if (dtype == "f32")
      o.dtype = DType::F32;
    else
      fail("--dtype: unknown dtype '{}' (bf16, f16, f32)", dtype);
    if (o.layers < 0 || (app.count("--layers") && o.layers == 0))
      fail("--layers must be positive (got {})", o.layers);
    try {
      o.shard_bytes = parse_size(shard_size);
    } catch (const Error& e) {
      fail("--shard-size: {}", e.what());
    }
    for (const auto& s : sets) {
      const auto eq = s.find('=');
      if (eq == std::string::npos || eq == 0) fail("--set '{}': expected KEY=JSON", s);
      const auto text = s.substr(eq + 1);
      auto v = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (v.is_discarded()) fail("--set '{}': '{}' is not a JSON value", s, text);
      o.set.emplace_back(s.substr(0, eq), std::move(v));
    }
    if (tokenizer.empty()) tokenizer = assets_dir() + "/tokenizers/" + p.tokenizer;
    if (tokenizer != "none") {
      if (!std::filesystem::exists(tokenizer + "/tokenizer.json"))
        fail(
            "--tokenizer '{}': no tokenizer.json there (set LOAQ_ASSETS, --tokenizer DIR, or "
            "--tokenizer none)",
            tokenizer);
      o.tokenizer_dir = tokenizer;
    }
    set_num_threads(threads);
    const auto r = bench::write_random_checkpoint(o);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("{}: {} ({} layers, {} parameters, {} of {} in {} files) in {:.1f} s, peak RSS {}\n",
               o.out, p.hub_id, r.config.num_layers, r.params, format_bytes(r.total_bytes), dtype,
               r.files.size(), secs, format_bytes(peak_rss_bytes()));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "loaq_make_checkpoint: error: {}\n", e.what());
    return 1;
  }
}
