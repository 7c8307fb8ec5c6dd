#pragma once
// A GGUF file of the llama, qwen2 or qwen3 architecture as a resident fp32 Model: the metadata
// becomes a config.json (export/gguf_names.h), every tensor is dequantized as ggml does it
// (quant/gguf_block.h) and llama's q/k rows are put back in Hugging Face's order. `loaq eval
// --model FILE.gguf` and the tests that compare with llama.cpp evaluate this model.
#include <string>

#include "model/model.h"

namespace loaq {

// Throws loaq::Error naming the file for a malformed GGUF, an unsupported architecture or tensor
// type, a missing or misshapen tensor, or a non-finite value.
Model load_gguf_model(const std::string& path);

// True when `path` is a regular file starting with the GGUF magic.
bool is_gguf_file(const std::string& path);

}  // namespace loaq
