// libFuzzer harness: config.json → ModelConfig, and tokenizer_config.json beside a real
// SentencePiece model (when $LOAQ_FUZZ_SP_MODEL names a tokenizer.model). The first byte picks the
// file; every bad input must end in loaq::Error.
#include <cstdint>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "fuzz_util.h"
#include "io/json_file.h"
#include "io/model_config.h"
#include "text/tokenizer.h"

namespace {

const std::filesystem::path* sp_dir() {
  static const std::filesystem::path* dir = []() -> const std::filesystem::path* {
    const char* m = std::getenv("LOAQ_FUZZ_SP_MODEL");
    if (!m || !*m) return nullptr;
    static std::filesystem::path d = loaq::fuzz::work_dir() / "sp";
    std::filesystem::create_directories(d);
    std::filesystem::copy_file(m, d / "tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
    return &d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto text = loaq::fuzz::as_view(data + 1, size - 1);
  try {
    if (data[0] % 2 == 0 || !sp_dir()) {
      const loaq::ModelConfig c =
          loaq::parse_model_config(loaq::parse_json(text, "config.json"), "config.json");
      if (c.head_dim <= 0 || c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
        __builtin_trap();
    } else {
      loaq::fuzz::write_file(*sp_dir() / "tokenizer_config.json", text);
      const auto tok = loaq::load_tokenizer(sp_dir()->string());
      if (tok->add_bos && !tok->bos_id) __builtin_trap();
    }
  } catch (const loaq::Error&) {
  }
  return 0;
}
