#pragma once
// What `loaq quantize` writes: a directory that is a normal Hugging Face checkpoint of the
// dequantized (fake-quantized) model, plus the integer state and a report.
//   config.json, tokenizer files      copied from the input model
//   model.safetensors                 every tensor in F32 (quantized linears hold scale·(code − zero))
//   quant_state.safetensors           per quantized linear <name>.{codes,scale,zero,g_idx,perm}
//   report.json                       configuration, timings, per-linear objectives, perplexities
// The directory is built under a temporary name and renamed into place at the end, so an
// interrupted run never leaves a directory that looks complete.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "model/model.h"
#include "quant/grid.h"
#include "quant/solver.h"

namespace loaq {

// All tensors of a model in Hugging Face names, F32, into `path` (atomic).
void write_model_safetensors(const Model& m, const std::string& path,
                             const std::map<std::string, std::string>& metadata = {});

// Integer codes (U8, or I8 for signed grids), scales, zeros, g_idx and perm of each linear.
void write_quant_state(const std::map<std::string, QuantizedLinear>& linears, const GridConfig& grid,
                       const std::string& path, const std::map<std::string, std::string>& metadata);

// Creates `out_dir` from the model, the source directory's config/tokenizer files, the quantized
// state and the report. Refuses an existing `out_dir` unless `force`.
void write_quant_output(const std::string& out_dir, bool force, const std::string& source_dir, const Model& m,
                        const std::map<std::string, QuantizedLinear>& linears, const GridConfig& grid,
                        const nlohmann::ordered_json& report);

}  // namespace loaq
