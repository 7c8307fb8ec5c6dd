#include "export/gguf_output.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace loaq {

namespace fs = std::filesystem;

void check_gguf_output(const std::string& out, const std::string& in, bool force) {
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (fs::is_directory(out)) fail("--out {}: is a directory; a GGUF export is one file", out);
    if (!force) fail("--out {}: exists (add --force to replace it)", out);
    std::ifstream f(out, std::ios::binary);
    char magic[4] = {};
    f.read(magic, 4);
    if (!f || std::memcmp(magic, "GGUF", 4) != 0)
      fail("--out {}: exists and is not a GGUF file; --force replaces only a GGUF", out);
  }
  const auto out_abs = fs::weakly_canonical(fs::absolute(out), ec);
  const auto in_abs = fs::weakly_canonical(fs::absolute(in), ec);
  const auto rel = out_abs.lexically_relative(in_abs);
  if (!rel.empty() && *rel.begin() != "..")
    fail("--out {}: inside the input directory {}; write the GGUF elsewhere", out, in);
}

const GgmlTypeInfo* gguf_float_type(const std::string& name) {
  for (const char* f : {"F32", "F16", "BF16"})
    if (name == f) return ggml_type_by_name(f);
  return nullptr;
}

uint32_t gguf_float_file_type(GgmlType t) {
  if (t == GgmlType::F32) return 0;
  if (t == GgmlType::F16) return 1;
  if (t == GgmlType::BF16) return 32;
  fail("internal error: {} is not a float GGUF type", ggml_type_info(t).name);
}

}  // namespace loaq
