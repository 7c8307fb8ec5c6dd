// libFuzzer harness: a safetensors file (header, offsets, dtypes, data) opened, every tensor
// located and every tensor read as fp32. Every bad input must end in loaq::Error.
#include <cstdint>

#include "core/error.h"
#include "fuzz_util.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = loaq::fuzz::work_dir() / "model.safetensors";
  loaq::fuzz::write_file(path, loaq::fuzz::as_view(data, size));
  try {
    const loaq::SafetensorsFile f(path.string());
    for (const auto& t : f.tensors()) {
      if (f.find(t.name) != &t) __builtin_trap();  // lookup by name finds the same entry
      try {
        (void)f.read_f32(t);
      } catch (const loaq::Error&) {
      }
    }
  } catch (const loaq::Error&) {
  }
  return 0;
}
