#include "core/lowrank_branch.h"

#include <cmath>
#include <cstdlib>

#include "core/blas.h"
#include "core/error.h"

namespace loaq {

Tensor RowQuantMatrix::dequantize() const {
  Tensor t({rows, cols});
  if (!quantized()) {
    t.data = values;
    return t;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t.data[size_t(r * cols + c)] = scale[size_t(r)] * float(codes[size_t(r * cols + c)]);
  return t;
}

int64_t RowQuantMatrix::bytes() const {
  if (!quantized()) return 2 * rows * cols;
  return (rows * cols * bits + 7) / 8 + 2 * rows;
}

namespace {

void validate_factor(const RowQuantMatrix& m, const std::string& where, const char* which) {
  if (m.bits != 16 && (m.bits < 2 || m.bits > 8))
    fail("{}: {} has {} bits; a branch factor has 2..8 or 16", where, which, m.bits);
  if (m.rows < 1 || m.cols < 1) fail("{}: {} is {}×{}", where, which, m.rows, m.cols);
  const auto n = size_t(m.rows * m.cols);
  if (m.quantized()) {
    if (m.codes.size() != n || m.scale.size() != size_t(m.rows))
      fail("{}: {} holds {} codes and {} scales for a {}×{} factor", where, which, m.codes.size(),
           m.scale.size(), m.rows, m.cols);
    for (size_t i = 0; i < n; ++i)
      if (std::abs(int(m.codes[i])) > m.qmax())
        fail("{}: {} code {} at index {} is outside ±{} ({} bits)", where, which, int(m.codes[i]),
             i, m.qmax(), m.bits);
    for (size_t r = 0; r < m.scale.size(); ++r)
      if (!std::isfinite(m.scale[r]) || m.scale[r] < 0)
        fail("{}: {} scale {} of row {} is not a finite non-negative number", where, which,
             m.scale[r], r);
  } else {
    if (m.values.size() != n)
      fail("{}: {} holds {} values for a {}×{} factor", where, which, m.values.size(), m.rows,
           m.cols);
    for (size_t i = 0; i < n; ++i)
      if (!std::isfinite(m.values[i]))
        fail("{}: {} value at index {} is not finite", where, which, i);
  }
}

}  // namespace

void validate(const LowRankBranch& b, const std::string& where) {
  validate_factor(b.l1, where, "L1");
  validate_factor(b.l2, where, "L2");
  if (b.l2.cols != b.l1.rows)
    fail("{}: L2 is {}×{} but L1 has rank {}", where, b.l2.rows, b.l2.cols, b.l1.rows);
  if (b.act_bits < 2 || b.act_bits > 16)
    fail("{}: branch activation bits {} outside 2..16", where, b.act_bits);
}

Tensor lowrank_product(const LowRankBranch& b) {
  const Tensor l1 = b.l1.dequantize(), l2 = b.l2.dequantize();
  Tensor p({b.out(), b.in()});
  gemm(false, false, b.out(), b.in(), b.rank(), 1.0f, l2.ptr(), b.rank(), l1.ptr(), b.in(), 0.0f,
       p.ptr(), b.in());
  return p;
}

}  // namespace loaq
