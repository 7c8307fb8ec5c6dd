// `loaq calib`: the calibration windows `loaq quantize` draws (same source, count, length and
// seed), written out as text for tools that tokenize themselves (llama.cpp's llama-imatrix), so
// that their calibration is the same text as loaq's.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "text/calibration.h"
#include "text/tokenizer.h"

namespace loaq::cli {

namespace {

struct CalibArgs {
  std::string model, calib = "c4", data, out;
  int64_t nsamples = 128, seqlen = 0;
  uint64_t seed = 0;
};

int run_calib(const CalibArgs& a) {
  const Checkpoint ckpt(a.model);
  const auto tok = load_model_tokenizer(a.model, ckpt.config());
  CalibConfig c;
  c.source = a.calib;
  c.nsamples = a.nsamples;
  c.seqlen =
      a.seqlen > 0 ? a.seqlen : std::min<int64_t>(2048, ckpt.config().max_position_embeddings);
  c.seed = a.seed;
  if (c.seqlen > ckpt.config().max_position_embeddings)
    fail("--seqlen {} exceeds the model's context of {} positions", c.seqlen,
         ckpt.config().max_position_embeddings);
  const CalibSet set =
      sample_calibration(*tok, c, a.data.empty() ? default_assets_dir() + "/data" : a.data);
  // Each window decoded on its own and the texts concatenated: re-tokenized, the stream is the
  // windows' ids up to the merges at the seams (the window boundaries fall inside words).
  std::string text;
  for (int64_t s = 0; s < set.nsamples; ++s)
    text += tok->decode(
        std::span<const int32_t>(set.ids).subspan(size_t(s * set.seqlen), size_t(set.seqlen)));
  write_file_atomic(a.out, text);
  fmt::print("{}: {} windows of {} tokens ({}), {} bytes of text\n", a.out, set.nsamples,
             set.seqlen, set.description, text.size());
  return 0;
}

}  // namespace

Runner add_calib(CLI::App& app) {
  auto a = std::make_shared<CalibArgs>();
  auto* cmd = app.add_subcommand(
      "calib",
      "The calibration windows `loaq quantize` would draw, written as text (llama-imatrix)");
  cmd->add_option("--model", a->model, "Model directory (its tokenizer and context)")->required();
  cmd->add_option("--calib", a->calib, "Calibration: c4, or a .jsonl / text file")
      ->capture_default_str();
  cmd->add_option("--nsamples", a->nsamples, "Calibration windows")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30))
      ->capture_default_str();
  cmd->add_option("--seqlen", a->seqlen, "Window length (default min(2048, context))")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 30));
  cmd->add_option("--seed", a->seed, "Calibration seed")->capture_default_str();
  cmd->add_option("--data", a->data, "Datasets folder (default: $LOAQ_ASSETS/data)");
  cmd->add_option("--out", a->out, "The text file to write")->required();
  return [a] { return run_calib(*a); };
}

}  // namespace loaq::cli
