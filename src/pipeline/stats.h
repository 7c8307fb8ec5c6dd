#pragma once
// Statistics of one linear group's input over calibration windows (paper eqs. 8–12): sums over
// tokens, in fp64. Each chunk's products are formed in fp32 (SYRK / GEMM) and added in fp64 in
// chunk order, so a sum over a range of windows is exactly a running sum that can be handed from
// one holder of windows to the next (the MPI reduction seam: the result does not depend on how the
// windows are split, only on the chunk order).
#include <cstdint>
#include <span>
#include <vector>

#include "core/linalg.h"
#include "core/tensor.h"

namespace loaq {

struct Stats {
  MatD H;  // X̂ᵀX̂                      [in, in]
  MatD C;  // X̂ᵀ(X − X̂)                [in, in]      (methods with the FP stream)
  MatD S;  // X̂ᵀ(s·h − ŝ·ĥ)            [in, hidden]  (LoaQ's sub-layer term, W_out only)
  std::vector<double> abs_sum;  // Σ |x̂| per input channel [in] (has_abs: LQER's mean |x|)
  bool has_c = false, has_s = false, has_abs = false;
  int64_t tokens = 0;  // calibration tokens summed

  Stats() = default;
  Stats(int64_t n_in, int64_t hidden, bool c, bool s, bool abs = false);
  // abs_sum / tokens: the mean |x̂| of each input channel (has_abs).
  std::vector<double> mean_abs() const;

  // Adds one chunk: xq = X̂ [rows, in]; dx = X − X̂ [rows, in] (has_c); target [rows, hidden]
  // (has_s).
  void add_chunk(const Tensor& xq, const Tensor* dx, const Tensor* target);
  // The chunk's inputs, kept for a distributed sum (sum_over_ranks).
  struct Chunk {
    Tensor xq, dx, target;
  };
  // Across ranks (dist.h): the sums over every rank's chunks, each rank holding `mine` (its
  // dist::my_range(n_chunks) chunks, in order), formed in chunk order along the ranks' chain —
  // the same bits as add_chunk() over all chunks in one process. The result is on rank `to`
  // (dist::kAll: on every rank); `total_tokens` is the token count over all chunks.
  void sum_over_ranks(std::span<const Chunk> mine, int64_t n_chunks, int64_t total_tokens, int to);
  // Bytes of the sums (fp64).
  int64_t bytes() const;
  // Bytes Stats(n_in, hidden, c, s) holds.
  static int64_t bytes_for(int64_t n_in, int64_t hidden, bool c, bool s);
};

}  // namespace loaq
