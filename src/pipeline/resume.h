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

#include "io/checkpoint.h"
#include "pipeline/quantize.h"

namespace loaq {

// What identifies a run: a resumed run must agree on all three parts.
nlohmann::ordered_json run_fingerprint(const Checkpoint& ckpt, const CalibSet& calib,
                                       const nlohmann::ordered_json& settings);
// "" when equal; otherwise which part differs (model, calibration, setting) and how.
std::string fingerprint_mismatch(const nlohmann::ordered_json& saved,
                                 const nlohmann::ordered_json& now);

nlohmann::ordered_json report_to_json(const QuantizeReport& r);
// [{"layer", "bytes", "seconds"}...]: the collectives per layer (several ranks).
nlohmann::ordered_json comm_to_json(const std::vector<LayerComm>& comm);
QuantizeReport report_from_json(const nlohmann::ordered_json& j, const std::string& file);

}  // namespace loaq
