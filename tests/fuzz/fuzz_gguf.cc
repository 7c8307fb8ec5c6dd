// libFuzzer harness: a GGUF file parsed and validated (io/gguf.h), every metadata lookup tried,
// every tensor of a type loaq decodes dequantized (quant/gguf_block.h), and the metadata turned
// into a model configuration (export/gguf_names.h, as `loaq eval` does). Every bad input must end
// in loaq::Error.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "export/gguf_names.h"
#include "io/gguf.h"
#include "quant/gguf_block.h"

// The bytes are parsed in memory (GgufFile only adds the mmap of a file to parse_gguf).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  const std::string path = "fuzz.gguf";
  try {
    const loaq::GgufHeader h = loaq::parse_gguf(bytes, path);
    for (size_t i = 0; i < h.kv.size() && i < 64; ++i) {  // (lookups are linear: the first 64)
      const auto& [key, v] = h.kv[i];
      if (h.find(key) != &v) __builtin_trap();  // lookup by key finds the same entry
      try {
        (void)h.get_str(key, path);
      } catch (const loaq::Error&) {
      }
      try {
        (void)h.get_int(key, path);
      } catch (const loaq::Error&) {
      }
    }
    std::vector<float> buf;
    for (const auto& t : h.tensors) {
      if (!loaq::gguf_codec_supported(t.type) || t.numel() > (int64_t(1) << 24)) continue;
      buf.resize(size_t(t.numel()));
      loaq::gguf_dequantize(t.type,
                            bytes.subspan(size_t(h.data_offset + t.offset), size_t(t.nbytes)),
                            buf.data(), t.numel());
    }
    try {
      (void)loaq::parse_model_config(loaq::config_json_from_gguf(h, path), path);
    } catch (const loaq::Error&) {
    }
  } catch (const loaq::Error&) {
  }
  return 0;
}
