#pragma once
// The codes a solver chose on a GGUF block grid (`loaq quantize --grid gguf:TYPE`), as llama.cpp
// bytes: the block headers are recovered from the stored per-group (scale, zero), which the grid
// derived from them (quant/gguf_grid.h): fp16 d (and min) for the 32-element blocks, and for the
// K-quants an fp16 super-scale d with integer sub-block codes sc such that d·sc is the group's
// scale exactly (d·sc is exact in float), likewise dmin·mn for the mins. Any exact factorization
// gives the same values in llama.cpp. A state that no header of `type` reproduces is an error.
#include <cstddef>
#include <vector>

#include "export/quant_dir.h"
#include "io/gguf.h"

namespace loaq {

// True when the linear's state has the shape of `type`'s grid (group, code range, zero kind).
bool state_fits_gguf_type(const LinearState& s, GgmlType type);

// The bytes of the linear in `type`'s layout, rows in the original column order; throws naming
// the linear when the state is not on `type`'s grid.
std::vector<std::byte> pack_gguf_state(const LinearState& s, GgmlType type);

}  // namespace loaq
