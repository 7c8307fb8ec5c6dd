#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/blas.h"
#include "model/ops.h"

namespace loaq {

void causal_attention(const AttentionShape& s, const float* q, const float* k, const float* v,
                      float* out) {
  const int64_t T = s.seq, hd = s.head_dim;
  const int64_t qs = s.n_heads * hd, ks = s.n_kv_heads * hd;  // row strides
  const int64_t rep = s.n_heads / s.n_kv_heads;
  const float scale = float(1.0 / std::sqrt(double(hd)));
  constexpr int64_t kBlock = 256;  // query rows per block: bounds the score buffer to kBlock × T
  const int64_t tasks = s.batch * s.n_heads;
  // One (sequence, head) per task; the BLAS calls inside run single-threaded in their OpenMP thread.
#pragma omp parallel
  {
    std::vector<float> scores(size_t(std::min(kBlock, T) * T));
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t b = task / s.n_heads, h = task % s.n_heads, g = h / rep;
      const float* qh = q + b * T * qs + h * hd;
      const float* kh = k + b * T * ks + g * hd;
      const float* vh = v + b * T * ks + g * hd;
      float* oh = out + b * T * qs + h * hd;
      for (int64_t r0 = 0; r0 < T; r0 += kBlock) {
        const int64_t r1 = std::min(T, r0 + kBlock), nr = r1 - r0;
        // S[nr, r1] = scale · Q[r0:r1] K[0:r1]ᵀ: keys beyond r1 are masked for all these rows.
        gemm(false, true, nr, r1, hd, scale, qh + r0 * qs, qs, kh, ks, 0.0f, scores.data(), r1);
        for (int64_t i = 0; i < nr; ++i) {
          float* row = scores.data() + i * r1;
          const int64_t len = r0 + i + 1;  // causal: keys 0..r0+i
          softmax_prefix(row, len);
          std::fill(row + len, row + r1, 0.0f);
        }
        // O[r0:r1] = P[nr, r1] V[0:r1]
        gemm(false, false, nr, hd, r1, 1.0f, scores.data(), r1, vh, ks, 0.0f, oh + r0 * qs, qs);
      }
    }
  }
}

}  // namespace loaq
