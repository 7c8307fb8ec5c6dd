#pragma once
// The layer-wise driver (paper Algorithm 1): a full-precision stream (X, h) and a quantized stream
// (X̂, ĥ) of the calibration windows are carried through the model; for each decoder layer and
// each sub-layer (attention, then MLP), the statistics of W_in (q/k/v or gate/up) are accumulated
// and W_in is quantized, then those of W_out (o or down) with the quantized W_in in place, then
// both streams move on through the sub-layer.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/rotate.h"
#include "quant/grid.h"
#include "quant/solver.h"
#include "text/calibration.h"

namespace loaq {

enum class Method { kNone, kRtn, kGptq, kGptaq, kQronos, kLoaq };
std::string method_name(Method m);
// Parses none|rtn|gptq|gptaq|qronos|loaq; throws naming the valid choices.
Method parse_method(const std::string& s);

struct LoaqParams {
  // Defaults from scripts/tune_loaq.sh (paper C.2 grid, α then β) on llama-mini-7m at 2 bits,
  // scored on held-out C4-train windows: α = 0.6 (of 0…1 step 0.1), β = 0.35 (of 0…1 step 0.05).
  double alpha = 0.6;  // linear-layer output approximation weight (eq. 8)
  double beta = 0.35;  // sub-layer output approximation weight (eq. 10)
  bool noa = true;  // normalized sub-layer output approximation (eq. 12): per-token RMS rescaling
  bool soa = true;  // sub-layer output approximation (the β term)
};

struct QuantizeConfig {
  Method method = Method::kGptq;
  GridConfig grid;
  SolverConfig solver;
  double gptaq_alpha = 0.25;   // GPTAQ's α (its fasterquant default)
  double qronos_alpha = 1e-6;  // Qronos damping α · λmax(H) (brevitas default)
  LoaqParams loaq;
  // Activation quantization of every quantized linear's input (W4A4). It is applied in the
  // quantized stream during calibration and stays on in the returned model (LayerWeights::act).
  ActQuant act;
  int64_t chunk_samples = 8;  // calibration windows per forward chunk
  // The W_out inputs (attention / MLP inner outputs) computed for the statistics are kept and
  // reused to advance the streams when both streams' copies fit in this many bytes; otherwise
  // they are recomputed. Results are identical either way.
  int64_t cache_bytes = int64_t(4) << 30;
  bool rotate = false;         // QuaRot's Hadamard rotation of the model first (model/rotate.h)
  uint64_t rotate_seed = 0;    // seed of the random signs (and of any random orthogonal fallback)
  bool progress = true;
};

// Whether the method (with its grid) uses calibration data: every method but none and RTN, and RTN
// with a NeUQI grid (which weights the grid by diag(H)).
bool method_needs_calibration(const QuantizeConfig& cfg);

struct LinearReport {
  std::string name;  // "model.layers.3.self_attn.o_proj"
  double objective = 0;  // tr((Q − W̃) H (Q − W̃)ᵀ) / tr(W̃ H W̃ᵀ): the solver's relative error
  double damp = 0;
  int damp_raises = 0;
  int64_t dead_columns = 0;
  double seconds = 0;
};

struct QuantizeReport {
  std::vector<LinearReport> linears;
  std::map<std::string, double> timings;  // seconds per stage
  int64_t stream_bytes = 0;               // memory of the two hidden-state streams
  int64_t cache_bytes = 0;                // memory of the cached W_out inputs (0: recomputed)
  int64_t calib_tokens = 0;
  std::optional<RotationReport> rotation;  // set when cfg.rotate
};

// Quantizes every linear of every decoder layer of `m` in place (their weights become the
// dequantized Q); embeddings, norms and the head stay in full precision. With cfg.rotate the
// model is first rotated (rotate_model: exact, so it composes with every method, kNone included). The integer codes,
// scales and zeros of each linear go to `out` (keyed by the module name). Method kNone changes
// nothing. A NaN in a stream is an error naming the layer and sub-layer.
QuantizeReport quantize_model(Model& m, const CalibSet& calib, const QuantizeConfig& cfg,
                              std::map<std::string, QuantizedLinear>* out);

}  // namespace loaq
