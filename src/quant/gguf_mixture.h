#pragma once
// llama-quantize's file types (its QUANT_OPTIONS: Q4_K_M, Q3_K_M, Q2_K, ...) and the block type
// each tensor of a llama / qwen2 / qwen3 model gets in them: the rules of llama.cpp's
// llama_tensor_get_type (src/llama-quant.cpp) for dense, non-Falcon models, with or without an
// imatrix (of its rules that test for one, only the Q4_0 / Q5_0 ffn_down rule concerns these
// file types), then its fallback for rows that are not whole blocks. One table of file types; the per-role rules in
// gguf_mixture.cc follow llama.cpp's branches in order. tests/gguf_llama_cpp_test.cc checks every
// tensor's type against llama-quantize itself.
#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace loaq {

struct GgufFileType {
  const char* name;  // as llama-quantize spells it
  uint32_t ftype;    // llama_ftype, written as general.file_type
  GgmlType base;     // the default type of the weight matrices
};

// The file types loaq writes; nullptr for another name.
const GgufFileType* gguf_file_type(const std::string& name);
std::vector<std::string> gguf_file_type_names();

// Where a weight matrix sits in the model.
enum class GgufRole {
  kTokenEmbd,
  kOutput,
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnOutput,
  kFfnGate,
  kFfnUp,
  kFfnDown
};

struct GgufTensorPlace {
  GgufRole role;
  int64_t layer = 0;     // decoder layer (unused for the embedding and the head)
  int64_t n_layers = 0;  // decoder layers of the model
  int64_t n_gqa = 1;     // attention heads per key/value head
  int64_t ncols = 0;     // the row length (ne[0], the input dimension)
  bool tied = false;     // the embedding doubles as the head (no output.weight)
  bool imatrix = false;  // llama-quantize was given an imatrix (its has_imatrix)
};

// The type llama-quantize gives this tensor in file type `ft` (pure: every matrix `ft.base`), after
// its fallback for incompatible row lengths.
GgmlType gguf_tensor_type(const GgufFileType& ft, const GgufTensorPlace& p, bool pure = false);

// The role of a GGUF tensor name ("blk.3.attn_v.weight" → kAttnV, layer 3); false when it is not
// a weight matrix llama-quantize quantizes.
bool gguf_role_of(const std::string& gguf_name, GgufRole& role, int64_t& layer);

// A per-layer tensor name `prefix` + decimal layer + "." + middle + "." + suffix, where suffix
// has no dot ("blk.3.attn_q.weight" with prefix "blk.": 3, "attn_q", "weight"). False otherwise.
bool split_layer_tensor_name(const std::string& name, const std::string& prefix, int64_t& layer,
                             std::string& middle, std::string& suffix);

}  // namespace loaq
