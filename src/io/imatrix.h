#pragma once
// llama.cpp's importance-matrix files (llama-imatrix's output, llama-quantize --imatrix's input),
// both formats, read into the values llama-quantize quantizes with:
//  - GGUF (the current format): per weight tensor T two F32 tensors, "T.in_sum2" [ne0, n_mat]
//    (Σ x² of each input column over the calibration tokens, per matrix of a stacked-expert
//    tensor) and "T.counts" [1, n_mat] (the tokens each matrix saw), with the metadata
//    imatrix.datasets (strings), imatrix.chunk_count and imatrix.chunk_size (u32), all three
//    required. Value = in_sum2 / count per matrix (count rounded to an integer, then a float, as
//    llama.cpp's loader does), 1 where the count is ≤ 0 (a matrix that saw no tokens).
//  - the legacy .dat: i32 n_entries ≥ 1; per entry i32 name length, the name, i32 ncall, i32
//    nval ≥ 1, nval f32 (Σ x² / tokens · ncall); optionally i32 chunk count, i32 length and the
//    dataset name. Value = stored / ncall (float division), the stored value where ncall ≤ 0.
// A value that is not finite is an error (llama-quantize refuses it too). Anything malformed is a
// loaq::Error naming the file, never a crash: every count and length is checked against the bytes
// left before anything is allocated from it.
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace loaq {

struct ImatrixEntry {
  std::vector<float> values;  // [n_mat × ne0]: matrix j's column i at j·ne0 + i
  int64_t n_mat = 1;          // matrices (experts) of the tensor; the legacy format has one count
};

struct Imatrix {
  std::string path;
  bool legacy = false;                          // the .dat format
  std::map<std::string, ImatrixEntry> entries;  // by GGUF tensor name, "blk.0.attn_q.weight"
  std::vector<std::string> datasets;            // the calibration files named in the file
  int32_t chunk_count = 0;                      // chunks the sums cover (0: not recorded)
  int32_t chunk_size = 0;                       // tokens per chunk (GGUF format only)

  // The entry of a GGUF tensor name, or nullptr.
  const ImatrixEntry* find(const std::string& tensor) const;
};

// Parses an imatrix file held in `bytes` (GGUF when it starts with the GGUF magic, else the
// legacy format); errors name `path`.
Imatrix parse_imatrix(std::span<const std::byte> bytes, const std::string& path);
// Reads and parses the file at `path`.
Imatrix read_imatrix(const std::string& path);

}  // namespace loaq
