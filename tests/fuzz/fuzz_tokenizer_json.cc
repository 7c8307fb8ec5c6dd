// libFuzzer harness: a tokenizer.json (everything up to the first NUL byte) loaded, then the rest
// of the input encoded, with and without special tokens, and the ids decoded. Every bad tokenizer
// must end in loaq::Error at load; a loaded tokenizer must encode and decode any bytes.
#include <cstdint>
#include <cstring>

#include "core/error.h"
#include "fuzz_util.h"
#include "io/json_file.h"
#include "text/hf_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto all = loaq::fuzz::as_view(data, size);
  const size_t nul = all.find('\0');
  const auto json_text = all.substr(0, nul);
  const auto text =
      nul == std::string_view::npos ? std::string_view("Hello, world! 123") : all.substr(nul + 1);
  std::unique_ptr<loaq::HfTokenizer> tok;
  try {
    tok = std::make_unique<loaq::HfTokenizer>(loaq::parse_json(json_text, "tokenizer.json"),
                                              nlohmann::json(), "tokenizer.json");
  } catch (const loaq::Error&) {
    return 0;
  }
  try {
    const auto ids = tok->encode(text);
    const auto with = tok->with_special_tokens(ids);
    (void)tok->decode(ids);
    (void)tok->decode(with);
    for (int32_t id : with) (void)tok->id_to_piece(id);
  } catch (const loaq::Error&) {
    // Encoding may fail only for a reason the tokenizer states (e.g. no byte fallback for a
    // character outside the vocabulary); a crash or another exception is a finding.
  }
  return 0;
}
