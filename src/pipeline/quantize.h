#pragma once
// The layer-wise driver (paper Algorithm 1; IST-DASLab/gptq llama_sequential): a full-precision
// stream (X, h) and a quantized stream (X̂, ĥ) of the calibration windows are carried through the
// model one decoder layer at a time. The layer is read from its source (ModelSource: the
// checkpoint's memory map, converted to fp32 for this layer only), quantized sub-layer by
// sub-layer — the statistics of W_in (q/k/v or gate/up), W_in solved, then those of W_out (o or
// down) with the quantized W_in in place — both streams advance, and the finished layer goes to a
// LayerSink (the output directory and its resume state) before the next one is read.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/rotate.h"
#include "model/source.h"
#include "pipeline/config.h"
#include "pipeline/methods.h"
#include "pipeline/streams.h"
#include "quant/solver.h"
#include "text/calibration.h"

namespace loaq {

struct LinearReport {
  std::string name;  // "model.layers.3.self_attn.o_proj"
  double objective = 0;  // tr((Q − W̃) H (Q − W̃)ᵀ) / tr(W̃ H W̃ᵀ): the solver's relative error
  double damp = 0;
  int damp_raises = 0;
  int64_t dead_columns = 0;
  double seconds = 0;
  // With a low-rank branch (issue 14): `objective` is that of the deployed linear, Q + B̂ (B̂ the
  // branch's dequantized L2·L1), and objective_main that of Q alone, both against the same target
  // (W̃, plus B̂ with --lowrank-first); lowrank_fit = ‖E − B̂‖²_F / ‖E‖²_F of the error it fitted.
  int64_t lowrank_rank = 0;  // 0: no branch
  int64_t lowrank_bytes = 0;
  double objective_main = 0;
  double lowrank_fit = 0;
  double lowrank_seconds = 0;
};

// The collectives of one decoder layer on several ranks.
struct LayerComm {
  int64_t layer = 0;
  int64_t bytes = 0;   // moved by all ranks
  double seconds = 0;  // the slowest rank's time in collectives
};

struct QuantizeReport {
  std::vector<LinearReport> linears;
  std::map<std::string, double> timings;  // seconds per stage
  int64_t stream_bytes = 0;               // memory of the two hidden-state streams
  int64_t cache_bytes = 0;                // memory of the cached W_out inputs (0: recomputed)
  int64_t calib_tokens = 0;
  int64_t first_layer = 0;                 // the layer the run started at (> 0 when resumed)
  std::optional<RotationReport> rotation;  // set when cfg.rotate
  std::vector<LayerComm> comm;             // per layer, on several ranks
};

// The streams after a number of finished layers: where a run resumes.
struct StreamState {
  int64_t layers_done = 0;
  Stream hq, hf;  // hf empty when the method has no FP stream
};

// Where the driver puts what it produces, layer by layer.
class LayerSink {
 public:
  virtual ~LayerSink() = default;
  // With cfg.rotate, before the first layer: the rotated (untied) head and final norm, the
  // rotated embedding, and the config with the rotation recorded.
  virtual void rotated_globals(const ModelConfig& c, const Tensor& embed, const Tensor& head,
                               const Tensor& final_norm) = 0;
  // Layer l is finished: its weights as quantized, the integer state of its linears (module
  // name → state; its `q` is empty, the dequantized weight being the layer's own), the report so
  // far and the streams after it (empty for data-free methods).
  virtual void layer_done(int64_t l, LayerWeights&& wq,
                          std::map<std::string, QuantizedLinear>&& states,
                          const QuantizeReport& report, const StreamState& streams) = 0;
};

// Thrown after layer `layer` was handed to the sink when QuantizeConfig::stop_after_layer asks for
// it (tests of the resume path).
struct StopAfterLayer {
  int64_t layer;
};

struct DriverOptions {
  int64_t stop_after_layer = -1;        // ≥ 0: stop (StopAfterLayer) once this layer is done
  const StreamState* resume = nullptr;  // continue after resume->layers_done layers
  QuantizeReport resumed_report;        // the report of the layers already done
};

// Quantizes every decoder layer of `src` into `sink`. Embeddings, norms and the head are not
// quantized. Method kNone passes the layers through (rotated with cfg.rotate). A NaN in a stream
// is an error naming the layer and sub-layer.
QuantizeReport quantize_layers(const ModelSource& src, const CalibSet& calib,
                               const QuantizeConfig& cfg, LayerSink& sink,
                               const DriverOptions& opt = {});

// The same on a resident model, in place: its linears become the dequantized Q, and with
// cfg.rotate it is rotated first. The integer state of each linear goes to `out` (keyed by the
// module name) when given.
QuantizeReport quantize_model(Model& m, const CalibSet& calib, const QuantizeConfig& cfg,
                              std::map<std::string, QuantizedLinear>* out);

}  // namespace loaq
