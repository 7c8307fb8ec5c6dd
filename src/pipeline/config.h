#pragma once
// The configuration of a layer-wise quantization run: the method, its grid and solver, and how the
// run uses memory (streams, chunks) and disk (resume state).
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "model/act_quant.h"
#include "quant/grid.h"
#include "quant/lowrank.h"
#include "quant/solver.h"

namespace loaq {

enum class Method { kNone, kRtn, kGptq, kGptaq, kQronos, kLoaq };

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
  // --grid gguf:FILE_TYPE (Q4_K_M, ...): each linear's grid is gguf_grid_for_linear(file type,
  // its name, the model) (quant/gguf_grid.h), the block type llama-quantize's mixture gives it;
  // `grid` is then the grid of the file type's base type. Empty: `grid` for every linear.
  std::string gguf_file_type;
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
  // Storage of the two hidden-state streams: F32 (default; exact) or BF16 (half the memory; the
  // streams are rounded to bf16 after each sub-layer).
  DType stream_dtype = DType::F32;
  // The low-rank branch of every quantized linear (issue 14, quant/lowrank.h): fitted after the
  // linear's solve to its error (or before it with lowrank.first) and kept in the quantized
  // stream, so that the later linears calibrate on the compensated layer.
  LowRankConfig lowrank;
  bool rotate = false;       // QuaRot's Hadamard rotation of the model first (model/rotate.h)
  uint64_t rotate_seed = 0;  // seed of the random signs (and of any random orthogonal fallback)
  bool progress = true;
};

}  // namespace loaq
