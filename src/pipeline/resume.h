#pragma once
// The resume state of a quantization run, in OUT.partial/resume/ (DESIGN.md "A run is a sequence
// of layers"): after each decoder layer, that layer's tensors and integer state (written by the
// output, pipeline/output.h), both streams, and state.json — the commit record: the number of
// finished layers, the stream files that belong to it, the report so far, and the fingerprint of
// the run (model files, calibration ids, full configuration). Every file is written atomically and
// state.json last, so a run killed at any moment resumes from its last complete layer.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "pipeline/quantize.h"

namespace loaq {

// What identifies a run: a resumed run must agree on all three parts.
nlohmann::ordered_json run_fingerprint(const Checkpoint& ckpt, const CalibSet& calib,
                                       const nlohmann::ordered_json& settings);
// "" when equal; otherwise which part differs (model, calibration, setting) and how.
// Compared as unordered JSON: a state file's key order does not matter.
std::string fingerprint_mismatch(const nlohmann::json& saved, const nlohmann::json& now);

// state.json of a resume folder, read and checked before anything uses it: an object whose
// fingerprint has object parts model, calibration (with an integer ranks ≥ 1) and settings;
// layers_done an integer in [0, num_layers]; streams the names of stream files of the resume
// folder (hq-… or hf-…, ….bin: plain names, never paths, as old ones are deleted by name); and a
// report object (report_from_json reads it). Anything else is an error naming the file and field.
struct ResumeState {
  nlohmann::json fingerprint;
  int64_t layers_done = 0;
  std::vector<std::string> streams;
  nlohmann::json report;
};
ResumeState read_resume_state(const std::string& path, int64_t num_layers);

nlohmann::ordered_json report_to_json(const QuantizeReport& r);
// [{"layer", "bytes", "seconds"}...]: the collectives per layer (several ranks).
nlohmann::ordered_json comm_to_json(const std::vector<LayerComm>& comm);
// The report of report_to_json; every number is checked (integers in range, finite values), and
// a malformed report is an error naming `file`.
QuantizeReport report_from_json(const nlohmann::json& j, const std::string& file);

}  // namespace loaq
