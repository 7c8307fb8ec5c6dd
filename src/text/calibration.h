#pragma once
// Calibration windows for layer-wise quantization, drawn as GPTQ's data loaders draw them.
#include <cstdint>
#include <string>
#include <vector>

#include "text/datasets.h"
#include "text/tokenizer.h"

namespace loaq {

struct CalibConfig {
  // "c4" (shared/data/c4 train shard), or the path of a .jsonl (documents, drawn like C4) or a
  // plain text file (tokenized whole, windows at random offsets, like GPTQ's WikiText-2 loader).
  std::string source = "c4";
  std::string ids_file;  // a safetensors file with integer `input_ids` [nsamples, seqlen]: used as is
  int64_t nsamples = 128;
  int64_t seqlen = 2048;
  uint64_t seed = 0;
};

struct CalibSet {
  int64_t nsamples = 0, seqlen = 0;
  std::vector<int32_t> ids;  // [nsamples · seqlen], sample-major
  std::string description;   // what was drawn, for the report
};

// Draws the windows. Documents (C4, jsonl): random.seed(seed); per sample, draw a document index
// with randint until its token count (with BOS as the tokenizer adds it) exceeds seqlen, then an
// offset randint(0, len − seqlen − 1): GPTQ's get_c4 (which accepts len == seqlen and then
// fails; such documents are skipped here). A text file: one token stream, offsets as above.
// Errors name the file when it has too little text for the request.
CalibSet sample_calibration(const Tokenizer& tok, const CalibConfig& cfg, const std::string& data_dir);

// Windows of a given id stream taken with seeded random offsets (the text-file rule above), for
// held-out scoring.
CalibSet sample_windows(const std::vector<int32_t>& stream, int64_t nsamples, int64_t seqlen,
                        uint64_t seed, const std::string& what);

}  // namespace loaq
