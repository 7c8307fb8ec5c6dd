#pragma once
// What the two GGUF exports (export.h: the model, export_gguf.cc, and the LoRA adapter of its
// low-rank branches, export_gguf_lora.cc) share about the file they write: where it may go, and
// the float tensor types with the general.file_type llama.cpp records for them.
#include <cstdint>
#include <string>

#include "io/gguf.h"

namespace loaq {

// Throws loaq::Error unless `out` may receive a GGUF file exported from `in`: not a directory,
// not inside `in`, and if it exists, `force` is set and it is a GGUF file (only a GGUF is
// replaced).
void check_gguf_output(const std::string& out, const std::string& in, bool force);

// "F32", "F16", "BF16" → their ggml type; nullptr for any other name.
const GgmlTypeInfo* gguf_float_type(const std::string& name);
// general.file_type (llama_ftype) of a file whose matrices are all of float type `t`: ALL_F32 0,
// MOSTLY_F16 1, MOSTLY_BF16 32.
uint32_t gguf_float_file_type(GgmlType t);

}  // namespace loaq
