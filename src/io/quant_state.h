#pragma once
// A quantized linear stored as integer state in quant_state.safetensors (pipeline/output.h):
//
//   <linear>.codes   U8 [out, in] (I8 for a signed grid)   codes in the original column order
//   <linear>.scale   F32 [out, groups]
//   <linear>.zero    F32 [out, groups]
//   <linear>.g_idx   I32 [in]      the group of each input column
//   <linear>.perm    I32 [in]      the order the solver quantized the columns in
//
// and its weight, scale[o, g_idx[c]] · (code[o, c] − zero[o, g_idx[c]]) in float32
// (core/dequantize.h), which is bit for bit the weight the solver produced. When config.json's
// "loaq" section says "weights_in_quant_state", model.safetensors omits the weight of every
// linear whose state reproduces it, and loaders dequantize it here (io/checkpoint.h).
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/safetensors_set.h"

namespace loaq {

// Whether `s` holds `linear`'s codes ("model.layers.0.mlp.down_proj.codes").
bool has_linear_state(const SafetensorsSet& s, const std::string& linear);

// The weight's shape [out, in], from the codes (2-D U8 or I8); throws naming the file otherwise.
std::vector<int64_t> linear_state_shape(const SafetensorsSet& s, const std::string& linear);

// The weight [out, in] dequantized from the state. Checks the dtypes and shapes of codes, scale,
// zero and g_idx, g_idx within [0, groups), and finite scales and zeros; throws naming the file and
// tensor otherwise.
Tensor dequantize_linear(const SafetensorsSet& s, const std::string& linear);

// Drops the mapped pages of the linear's state from the resident set.
void release_linear_state(const SafetensorsSet& s, const std::string& linear);

}  // namespace loaq
