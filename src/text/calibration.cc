#include "text/calibration.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"
#include "text/datasets.h"
#include "text/py_random.h"

namespace loaq {

namespace fs = std::filesystem;

CalibSet sample_windows(const std::vector<int32_t>& stream, int64_t nsamples, int64_t seqlen, uint64_t seed,
                        const std::string& what) {
  const auto n = int64_t(stream.size());
  if (n <= seqlen)
    fail("{}: {} tokens, not enough for windows of {} tokens", what, n, seqlen);
  PyRandom rng(seed);
  CalibSet c{nsamples, seqlen, {}, fmt::format("{} windows of {} tokens at random offsets of {} (seed {})",
                                               nsamples, seqlen, what, seed)};
  c.ids.reserve(size_t(nsamples * seqlen));
  for (int64_t s = 0; s < nsamples; ++s) {
    const int64_t i = rng.randint(0, n - seqlen - 1);
    c.ids.insert(c.ids.end(), stream.begin() + i, stream.begin() + i + seqlen);
  }
  return c;
}

namespace {

CalibSet from_ids_file(const CalibConfig& cfg, int64_t vocab_size) {
  const SafetensorsFile f(cfg.ids_file);
  const auto* t = f.find("input_ids");
  if (!t) fail("{}: no tensor 'input_ids'", cfg.ids_file);
  if (t->shape.size() != 2) fail("{}: 'input_ids' must be [nsamples, seqlen], got {}", cfg.ids_file, shape_str(t->shape));
  if (t->dtype != DType::I64 && t->dtype != DType::I32)
    fail("{}: 'input_ids' must be I64 or I32, got {}", cfg.ids_file, dtype_name(t->dtype));
  CalibSet c{t->shape[0], t->shape[1], {}, fmt::format("input_ids from {}", cfg.ids_file)};
  const auto bytes = f.bytes(*t);
  c.ids.resize(size_t(c.nsamples * c.seqlen));
  for (size_t i = 0; i < c.ids.size(); ++i) {
    int64_t v = 0;
    if (t->dtype == DType::I64) {
      std::memcpy(&v, bytes.data() + 8 * i, 8);
    } else {
      int32_t v32;
      std::memcpy(&v32, bytes.data() + 4 * i, 4);
      v = v32;
    }
    if (v < 0 || v >= vocab_size)
      fail("{}: input_ids[{}] = {} is not a token id of the tokenizer ({} ids)", cfg.ids_file, i, v,
           vocab_size);
    c.ids[i] = int32_t(v);
  }
  return c;
}

CalibSet from_documents(const Tokenizer& tok, const std::vector<std::string>& docs, const CalibConfig& cfg,
                        const std::string& what) {
  PyRandom rng(cfg.seed);
  CalibSet c{cfg.nsamples, cfg.seqlen, {}, fmt::format("{} windows of {} tokens from random documents of {} (seed {})",
                                                       cfg.nsamples, cfg.seqlen, what, cfg.seed)};
  c.ids.reserve(size_t(cfg.nsamples * cfg.seqlen));
  // Token counts are cached: the same document can be drawn again.
  std::vector<std::vector<int32_t>> cache(docs.size());
  std::vector<bool> done(docs.size(), false);
  int64_t tries = 0;
  for (int64_t s = 0; s < cfg.nsamples; ++s) {
    const std::vector<int32_t>* enc = nullptr;
    while (true) {
      if (++tries > 100000 + 1000 * cfg.nsamples)
        fail("{}: too few documents longer than {} tokens to draw {} windows", what, cfg.seqlen, cfg.nsamples);
      const auto i = size_t(rng.randint(0, int64_t(docs.size()) - 1));
      if (!done[i]) {
        cache[i] = tok.encode_with_special(docs[i]);
        done[i] = true;
      }
      if (int64_t(cache[i].size()) > cfg.seqlen) {
        enc = &cache[i];
        break;
      }
    }
    const int64_t off = rng.randint(0, int64_t(enc->size()) - cfg.seqlen - 1);
    c.ids.insert(c.ids.end(), enc->begin() + off, enc->begin() + off + cfg.seqlen);
  }
  return c;
}

}  // namespace

CalibSet sample_calibration(const Tokenizer& tok, const CalibConfig& cfg, const std::string& data_dir) {
  if (!cfg.ids_file.empty()) return from_ids_file(cfg, tok.vocab_size());
  if (cfg.nsamples < 1 || cfg.seqlen < 2)
    fail("calibration needs nsamples ≥ 1 and seqlen ≥ 2 (got {} and {})", cfg.nsamples, cfg.seqlen);
  if (cfg.source == "c4" || cfg.source == "c4-head") {
    const auto path = c4_train_path(data_dir);
    if (!fs::exists(path)) fail("calibration set 'c4': file '{}' not found (set --data or LOAQ_ASSETS)", path);
    auto docs = read_jsonl_texts(path);
    if (cfg.source == "c4-head") {
      if (int64_t(docs.size()) <= kC4HeadDocs) fail("{}: fewer than {} documents", path, kC4HeadDocs + 1);
      docs.resize(size_t(kC4HeadDocs));
    }
    return from_documents(tok, docs, cfg, cfg.source == "c4" ? path : path + " (first 937 documents)");
  }
  if (!fs::is_regular_file(cfg.source))
    fail("--calib '{}': expected c4, c4-head or the path of a .jsonl or text file", cfg.source);
  if (fs::path(cfg.source).extension() == ".jsonl")
    return from_documents(tok, read_jsonl_texts(cfg.source), cfg, cfg.source);
  const auto stream = tok.encode_with_special(read_file(cfg.source));
  return sample_windows(stream, cfg.nsamples, cfg.seqlen, cfg.seed, cfg.source);
}

}  // namespace loaq
