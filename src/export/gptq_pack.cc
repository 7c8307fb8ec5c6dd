#include "export/gptq_pack.h"

#include <bit>

#include "core/error.h"

namespace loaq {

namespace {

void check(std::span<const uint32_t> v, int64_t rows, int64_t cols, int bits, int64_t packed_dim,
           const char* what) {
  if (!gptq_bits_supported(bits)) fail("GPTQ packing: {} bits is not one of 2, 3, 4, 8", bits);
  if (rows < 0 || cols < 0 || int64_t(v.size()) != rows * cols)
    fail("GPTQ packing: {} values for a [{}, {}] matrix", v.size(), rows, cols);
  if (packed_dim % 32 != 0)
    fail("GPTQ packing: the {} ({}) must be a multiple of 32", what, packed_dim);
  const uint32_t limit = uint32_t(1) << bits;
  for (uint32_t x : v)
    if (x >= limit) fail("GPTQ packing: value {} does not fit in {} bits", x, bits);
}

// Value k (0 ≤ k < 32) of a run goes to bit b·k of the run's b-word little-endian stream.
// `word(i)` is the i-th word of the run (0 ≤ i < b).
template <class WordAt>
void put(uint32_t value, int k, int bits, WordAt word) {
  const int bit = bits * k, w = bit / 32, shift = bit % 32;
  word(w) |= value << shift;
  if (shift + bits > 32) word(w + 1) |= value >> (32 - shift);  // 3-bit values 10 and 21
}

}  // namespace

bool gptq_bits_supported(int bits) {
  return bits == 2 || bits == 3 || bits == 4 || bits == 8;
}

std::vector<int32_t> gptq_pack_rows(std::span<const uint32_t> v, int64_t rows, int64_t cols,
                                    int bits) {
  check(v, rows, cols, bits, rows, "number of rows");
  std::vector<uint32_t> out(size_t(rows / 32 * bits * cols), 0u);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t run = r / 32;
    const int k = int(r % 32);
    for (int64_t c = 0; c < cols; ++c)
      put(v[size_t(r * cols + c)], k, bits,
          [&](int w) -> uint32_t& { return out[size_t((run * bits + w) * cols + c)]; });
  }
  std::vector<int32_t> res(out.size());
  for (size_t i = 0; i < out.size(); ++i) res[i] = std::bit_cast<int32_t>(out[i]);
  return res;
}

std::vector<int32_t> gptq_pack_cols(std::span<const uint32_t> v, int64_t rows, int64_t cols,
                                    int bits) {
  check(v, rows, cols, bits, cols, "number of columns");
  const int64_t pc = cols / 32 * bits;
  std::vector<uint32_t> out(size_t(rows * pc), 0u);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t run = c / 32;
      put(v[size_t(r * cols + c)], int(c % 32), bits,
          [&](int w) -> uint32_t& { return out[size_t(r * pc + run * bits + w)]; });
    }
  std::vector<int32_t> res(out.size());
  for (size_t i = 0; i < out.size(); ++i) res[i] = std::bit_cast<int32_t>(out[i]);
  return res;
}

}  // namespace loaq
