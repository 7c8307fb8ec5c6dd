#include "quant/lowrank_quant.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace loaq {

namespace {

float row_scale(const float* w, int64_t cols, float qmax) {
  float amax = 0.0f;
  for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::abs(w[c]));
  return amax / qmax;
}

float row_code(float w, float scale, float qmax) {
  return scale > 0.0f ? std::clamp(std::nearbyint(w / scale), -qmax, qmax) : 0.0f;
}

void check_bits(int bits) {
  if (bits != 16 && (bits < 2 || bits > 8))
    fail("--lowrank-bits: weight bits {} must be 2..8 or 16", bits);
}

}  // namespace

RowQuantMatrix quantize_rows(const Tensor& m, int bits) {
  check_bits(bits);
  RowQuantMatrix q;
  q.rows = m.rows();
  q.cols = m.cols();
  q.bits = bits;
  if (!q.quantized()) {
    q.values = m.data;
    return q;
  }
  const auto qmax = float(q.qmax());
  q.codes.resize(m.data.size());
  q.scale.resize(size_t(q.rows));
  for (int64_t r = 0; r < q.rows; ++r) {
    const float* w = m.row(r);
    const float s = row_scale(w, q.cols, qmax);
    q.scale[size_t(r)] = s;
    for (int64_t c = 0; c < q.cols; ++c)
      q.codes[size_t(r * q.cols + c)] = int8_t(row_code(w[c], s, qmax));
  }
  return q;
}

void fake_quantize_rows(const float* in, float* out, int64_t rows, int64_t cols, int bits) {
  check_bits(bits);
  if (bits == 16) {
    if (in != out) std::copy(in, in + rows * cols, out);
    return;
  }
  const auto qmax = float((1 << (bits - 1)) - 1);
  for (int64_t r = 0; r < rows; ++r) {
    const float* w = in + r * cols;
    float* o = out + r * cols;
    const float s = row_scale(w, cols, qmax);
    for (int64_t c = 0; c < cols; ++c) o[c] = s * row_code(w[c], s, qmax);
  }
}

LowRankBranch quantize_branch(const LowRankFactors& f, int wbits, int abits) {
  LowRankBranch b;
  b.l1 = quantize_rows(f.l1, wbits);
  b.l2 = quantize_rows(f.l2, wbits);
  b.act_bits = abits;
  validate(b, "low-rank branch");
  return b;
}

}  // namespace loaq
