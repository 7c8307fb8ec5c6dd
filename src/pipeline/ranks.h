#pragma once
// How the layer-wise driver splits its work across ranks (dist.h, README "Running on several
// processes"): the calibration windows are cut into chunks of chunk_samples windows (the same
// chunks whatever the number of ranks), each rank holds a contiguous range of chunks and only its
// windows' streams; the statistics are summed along the ranks in chunk order; each linear is
// solved by one owner rank and its result is copied to every rank.
#include <cstdint>
#include <span>
#include <vector>

#include "dist/dist.h"
#include "pipeline/quantize.h"
#include "quant/solver.h"

namespace loaq {

// This rank's chunks and windows of S windows in chunks of `chunk` windows.
struct WindowShare {
  int64_t n_chunks = 0;    // over all ranks
  dist::Range chunks;      // this rank's
  int64_t w0 = 0, w1 = 0;  // this rank's windows [w0, w1)
  int64_t chunk = 1;

  WindowShare() = default;
  WindowShare(int64_t windows, int64_t chunk_samples);
  int64_t windows() const { return w1 - w0; }
  // Windows of chunk c (global indices).
  int64_t begin(int64_t c) const { return c * chunk; }
  int64_t end(int64_t c, int64_t windows_total) const;
};

// The solve cost estimate that places a linear on a rank: GPTQ's O(out · in²) column sweep plus
// the O(in³) factorization (data-free methods: out · in).
double solve_cost(int64_t out, int64_t in, bool uses_data);

// Copies the owner's solved linear and its report line to every rank (a collective).
void broadcast_linear(QuantizedLinear& q, LinearReport& r, int owner);

}  // namespace loaq
