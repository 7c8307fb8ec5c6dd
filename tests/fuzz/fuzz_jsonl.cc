// libFuzzer harness: the .jsonl readers: dataset documents (C4-style {"text": ...}, used by
// --ppl FILE.jsonl and --calib FILE.jsonl) and the zero-shot task files (ARC, PIQA, WinoGrande
// records, HellaSwag blocks). The first byte picks the reader and --skip-bad; every bad input must
// end in loaq::Error.
#include <cstdint>
#include <filesystem>

#include "core/error.h"
#include "eval/zeroshot_tasks.h"
#include "fuzz_util.h"
#include "text/datasets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  namespace fs = std::filesystem;
  const fs::path& d = loaq::fuzz::work_dir();
  const auto text = loaq::fuzz::as_view(data + 1, size - 1);
  const int which = data[0] % 6;
  loaq::TaskLoadOptions o;
  o.skip_bad = (data[0] / 6) % 2 == 1;
  try {
    switch (which) {
      case 0:
        loaq::fuzz::write_file(d / "docs.jsonl", text);
        (void)loaq::read_jsonl_texts((d / "docs.jsonl").string());
        break;
      case 1:
        fs::create_directories(d / "arc");
        loaq::fuzz::write_file(d / "arc" / "ARC-Easy-Test.jsonl", text);
        (void)loaq::load_zeroshot_task("arc_easy", d.string(), o);
        break;
      case 2: {
        // PIQA: records, then after a NUL byte the labels file.
        fs::create_directories(d / "piqa");
        const size_t nul = text.find('\0');
        loaq::fuzz::write_file(d / "piqa" / "valid.jsonl", text.substr(0, nul));
        loaq::fuzz::write_file(d / "piqa" / "valid-labels.lst",
                               nul == std::string_view::npos ? "0\n" : text.substr(nul + 1));
        (void)loaq::load_zeroshot_task("piqa", d.string(), o);
        break;
      }
      case 3:
        fs::create_directories(d / "hellaswag");
        loaq::fuzz::write_file(d / "hellaswag" / "hellaswag_val_full.txt", text);
        (void)loaq::load_zeroshot_task("hellaswag", d.string(), o);
        break;
      default:
        fs::create_directories(d / "winogrande");
        loaq::fuzz::write_file(d / "winogrande" / "dev.jsonl", text);
        (void)loaq::load_zeroshot_task("winogrande", d.string(), o);
        break;
    }
  } catch (const loaq::Error&) {
  }
  return 0;
}
