// libFuzzer harness: the resume state of the two resumable runs. First byte even: a quantize
// run's state.json (OUT.partial/resume/): read and checked for a model of 4 layers, its report
// read back, its fingerprint compared with a run's. Odd: a `loaq bench` job's result.json. The
// rest of the input is the file. Every bad input must end in loaq::Error.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "fuzz_util.h"
#include "pipeline/resume.h"
#include "study/job_result.h"

namespace {

// The fingerprint of a run, as run_fingerprint writes it.
const nlohmann::json& now() {
  static const nlohmann::json j = nlohmann::json::parse(R"({
    "model": {"dir": "/models/m", "files": [{"file": "model.safetensors", "bytes": 1024}],
              "headers": "0123456789abcdef", "config": "fedcba9876543210"},
    "calibration": {"windows": 4, "seqlen": 16, "ids": "00112233445566aa", "ranks": 1},
    "settings": {"method": "gptq", "wbits": 4, "group": -1}})");
  return j;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto path = loaq::fuzz::work_dir() / "state.json";
  loaq::fuzz::write_file(path, loaq::fuzz::as_view(data + 1, size - 1));
  try {
    if (data[0] % 2 == 0) {
      const loaq::ResumeState s = loaq::read_resume_state(path.string(), 4);
      (void)loaq::fingerprint_mismatch(s.fingerprint, now());
      (void)loaq::report_from_json(s.report, path.string());
    } else {
      (void)loaq::study::read_result(path.string());
    }
  } catch (const loaq::Error&) {
  }
  return 0;
}
