#pragma once
// How a linear's low-rank branch (core/lowrank_branch.h) is stored in quant_state.safetensors,
// beside the main layer's <linear>.{codes,scale,zero,g_idx,perm}:
//
//   <linear>.lowrank.bits       I32 [3]        {rank r, weight bits w, activation bits a}
//   <linear>.lowrank.l1.codes   I8  [r, in]    w < 16: signed codes in ±(2^(w−1) − 1)
//   <linear>.lowrank.l1.scale   F32 [r]        w < 16: one scale per row of L1
//   <linear>.lowrank.l1.weight  F32 [r, in]    w = 16: the values (instead of codes and scale)
//   <linear>.lowrank.l2.codes   I8  [out, r]   likewise for L2, one scale per output row
//   <linear>.lowrank.l2.scale   F32 [out]
//   <linear>.lowrank.l2.weight  F32 [out, r]
//
// and the file metadata "lowrank_dequantize" = "scale * code" (row r of a factor is
// scale[r] · codes[r, :] in fp32). The branch adds y += L2 · Qa(L1 · Qa(x)), Qa the per-token
// activation quantizer at a bits (model/lowrank_apply.h).
#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/lowrank_branch.h"
#include "io/safetensors.h"
#include "io/safetensors_set.h"

namespace loaq {

inline constexpr const char* kLowRankMetaKey = "lowrank_dequantize";
inline constexpr const char* kLowRankMetaValue = "scale * code";

// True for a tensor name that belongs to a branch ("<linear>.lowrank.<part>").
bool is_lowrank_tensor(std::string_view name);

// The branch tensors of `branches` (keyed by linear name, "model.layers.0.mlp.down_proj"), as
// views into the branches (which must outlive the write) and into `ints` (ditto).
struct LowRankStateTensors {
  std::vector<TensorToWrite> tensors;
  std::vector<std::array<int32_t, 3>> ints;
};
LowRankStateTensors lowrank_state_tensors(const std::map<std::string, LowRankBranch>& branches);

// Rewrites the safetensors file `path` (atomically) with the branches' tensors and the metadata
// key added to what it holds. Refuses a linear that already has a branch there.
void add_lowrank_to_safetensors(const std::string& path,
                                const std::map<std::string, LowRankBranch>& branches);

// The linears of `s` (one quant_state file or its shards) that carry a branch, in name order.
// Throws naming the file when a branch's tensor set is incomplete or has unknown parts, or the
// metadata key is missing or different.
std::vector<std::string> lowrank_linears(const SafetensorsSet& s);

// Reads and validates one branch: dtypes, shapes against {rank, bits}, codes within range,
// finite scales and values. `out`, `in` (when > 0) must match the linear's weight. The branch's
// tensors may lie in different shards.
LowRankBranch read_lowrank_branch(const SafetensorsSet& s, const std::string& linear,
                                  int64_t out = 0, int64_t in = 0);

}  // namespace loaq
