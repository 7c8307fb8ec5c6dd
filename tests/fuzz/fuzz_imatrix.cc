// libFuzzer harness: an imatrix file (io/imatrix.h: llama-imatrix's GGUF or legacy .dat format)
// parsed into the values llama-quantize uses, every entry looked up and read. Every bad input must
// end in loaq::Error.
#include <cmath>
#include <cstdint>
#include <span>
#include <string>

#include "core/error.h"
#include "io/imatrix.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const loaq::Imatrix m = loaq::parse_imatrix(bytes, "fuzz.imatrix");
    for (const auto& [name, e] : m.entries) {
      if (m.find(name) != &e) __builtin_trap();
      if (e.n_mat < 1 || e.values.empty() || int64_t(e.values.size()) % e.n_mat != 0)
        __builtin_trap();
      for (float v : e.values)
        if (!std::isfinite(v)) __builtin_trap();  // the reader refuses non-finite values
    }
  } catch (const loaq::Error&) {
  }
  return 0;
}
