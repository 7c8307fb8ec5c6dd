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

void tree_attention(const PrefixTree& t, int64_t n_heads, int64_t n_kv_heads, int64_t hd,
                    const float* q, const float* k, const float* v, float* out) {
  const int64_t qs = n_heads * hd, ks = n_kv_heads * hd;  // row strides
  const int64_t rep = n_heads / n_kv_heads;
  const float scale = float(1.0 / std::sqrt(double(hd)));
  constexpr int64_t kBlock = 256;  // query rows per block: bounds the score buffer
  const auto n_seg = int64_t(t.segments.size());
  const int64_t tasks = n_seg * n_heads;
#pragma omp parallel
  {
    std::vector<float> scores;
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t si = task / n_heads, h = task % n_heads, g = h / rep;
      const TreeSegment& seg = t.segments[size_t(si)];
      const std::vector<int64_t> chain = t.chain(si);  // ancestors, then the segment itself
      const int64_t n_anc = seg.pos0;                  // keys before the segment's first row
      for (int64_t r0 = 0; r0 < seg.len; r0 += kBlock) {
        const int64_t r1 = std::min(seg.len, r0 + kBlock), nr = r1 - r0;
        const int64_t width = n_anc + r1;  // keys the block's last row sees
        scores.resize(size_t(nr * width));
        const float* qh = q + (seg.row0 + r0) * qs + h * hd;
        // S[nr, width] = scale · Q Kᵀ over the key runs of the chain (the own run up to r1).
        int64_t col = 0;
        for (const int64_t c : chain) {
          const TreeSegment& ks_seg = t.segments[size_t(c)];
          const int64_t n = c == si ? r1 : ks_seg.len;
          gemm(false, true, nr, n, hd, scale, qh, qs, k + ks_seg.row0 * ks + g * hd, ks, 0.0f,
               scores.data() + col, width);
          col += n;
        }
        for (int64_t i = 0; i < nr; ++i) {
          float* row = scores.data() + i * width;
          const int64_t len = n_anc + r0 + i + 1;  // causal within the segment
          softmax_prefix(row, len);
          std::fill(row + len, row + width, 0.0f);
        }
        // O = P V over the same runs.
        float* oh = out + (seg.row0 + r0) * qs + h * hd;
        col = 0;
        for (const int64_t c : chain) {
          const TreeSegment& vs_seg = t.segments[size_t(c)];
          const int64_t n = c == si ? r1 : vs_seg.len;
          gemm(false, false, nr, hd, n, 1.0f, scores.data() + col, width,
               v + vs_seg.row0 * ks + g * hd, ks, col == 0 ? 0.0f : 1.0f, oh, qs);
          col += n;
        }
      }
    }
  }
}

}  // namespace loaq
