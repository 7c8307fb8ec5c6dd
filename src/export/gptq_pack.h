#pragma once
// Bit packing of the GPTQ "v1" checkpoint format, as AutoGPTQ (auto_gptq/nn_modules/qlinear/
// qlinear_cuda.py, QuantLinear.pack) and GPTQModel write it.
//
// Along the packed dimension, b-bit values are laid one after another in a little-endian stream of
// 32-bit words: value k of a run of 32 occupies bits [b·k, b·k + b) of the run's b words. For
// b = 2, 4, 8 every word holds 32/b whole values (value j of a word at bit b·j). For b = 3 the 32
// values fill 3 words and values 10 and 21 straddle a word boundary: value 10 has its low 2 bits
// at bits 30–31 of word 0 and its high bit at bit 0 of word 1; value 21 its low bit at bit 31 of
// word 1 and its high 2 bits at bits 0–1 of word 2 (the format's cross-word packing).
#include <cstdint>
#include <span>
#include <vector>

namespace loaq {

// True for the bit-widths the format defines: 2, 3, 4 and 8.
bool gptq_bits_supported(int bits);

// Packs v[rows, cols] (row-major, each value < 2^bits) along the rows, as qweight is packed
// along the input dimension: returns [rows / 32 · bits, cols] int32 words. `rows` must be a
// multiple of 32; throws loaq::Error otherwise or for a value out of range.
std::vector<int32_t> gptq_pack_rows(std::span<const uint32_t> v, int64_t rows, int64_t cols,
                                    int bits);

// Packs v[rows, cols] along the columns, as qzeros is packed along the output dimension: returns
// [rows, cols / 32 · bits] int32 words. `cols` must be a multiple of 32.
std::vector<int32_t> gptq_pack_cols(std::span<const uint32_t> v, int64_t rows, int64_t cols,
                                    int bits);

}  // namespace loaq
