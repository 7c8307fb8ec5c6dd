#pragma once
// `loaq inspect FILE.gguf`: the GGUF reader's validation (io/gguf.h: header bounds, value types,
// tensor types, offsets, alignment, sizes), then a summary (architecture, metadata, tensors by
// type, bytes) and, unless headers_only, every tensor of a type loaq can decode dequantized and
// checked finite.
#include <string>
#include <vector>

namespace loaq {

struct GgufInspection {
  std::string text;                   // the summary, for the terminal
  std::vector<std::string> problems;  // non-finite tensors; empty when the file is sound
};

// Throws loaq::Error (naming the file) when the GGUF is malformed.
GgufInspection inspect_gguf(const std::string& path, bool headers_only);

}  // namespace loaq
