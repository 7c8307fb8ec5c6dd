#pragma once
// llama.cpp's quantized block formats (ggml-common.h's block_q*), unpacked into one plain struct
// so that a solver can choose codes on a block's fixed grid and pack them:
//   Q8_0, Q4_0, Q5_0   blocks of 32, fp16 d:          x = d·(q − z)         (z = 0, 8, 16)
//   Q4_1, Q5_1         blocks of 32, fp16 d and m:    x = d·q + m
//   Q2_K, Q4_K, Q5_K   super-blocks of 256, fp16 d and dmin, sub-blocks of 16 (Q2_K) or 32 with
//                      quantized scales sc and mins mn: x = d·sc·q − dmin·mn
//   Q3_K, Q6_K         super-blocks of 256, fp16 d, 16 sub-blocks of 16 with signed scales:
//                      x = d·sc·(q − z)                      (z = 4, 32)
// The table in gguf_block.cc is the one place these types are described: each row has the codec
// (pack, unpack, dequantize as ggml does it), llama.cpp's reference quantizer (the
// quantize_row_*_ref that llama-quantize runs without an imatrix) and its importance-weighted one
// (quantize_row_*_impl, run with an imatrix: quant/gguf_imatrix.h), reproduced operation by
// operation so that the bytes are identical (tests/gguf_llama_cpp_test.cc and
// tests/gguf_imatrix_llama_cpp_test.cc check against llama-quantize).
// The container's facts (ids, block sizes and bytes) are io/gguf.h's table.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/gguf.h"

namespace loaq {

// One block (32 elements) or super-block (256) unpacked. d and dmin are fp16 bit patterns (the
// values the file holds); sc and mn are the sub-block scale and min codes (K-quants; Q3_K's sc in
// −32..31, Q6_K's in −128..127); q are the element codes as the format stores them (unsigned,
// offset included, except Q8_0's signed −128..127).
struct GgufBlock {
  uint16_t d = 0, dmin = 0;
  int16_t sc[16] = {};
  int16_t mn[16] = {};
  int16_t q[256] = {};
};

struct GgufBlockFormat {
  GgmlType type;
  int64_t block;   // elements per block (32 or 256)
  int group;       // elements that share one scale (32, or 16 / 32 for the sub-blocks)
  int qmin, qmax;  // the range of the stored codes
  bool has_min;    // x = s·q − m (an asymmetric grid) rather than x = s·(q − z)
  // What llama-quantize uses instead when a row's length is not a multiple of `block`
  // (llama-quant.cpp's tensor_type_fallback; F16 when that does not fit either).
  GgmlType fallback;
  void (*quantize_ref)(const float* x, GgufBlock& b);
  // The importance-weighted quantizer of one block x with its columns' imatrix values qw, in a
  // row whose mean square is row_sigma2 (quant/gguf_imatrix.h); nullptr for a type for which
  // llama.cpp ignores an imatrix (Q8_0).
  void (*quantize_imatrix)(const float* x, const float* qw, float row_sigma2, GgufBlock& b);
  void (*pack)(const GgufBlock& b, uint8_t* out);
  void (*unpack)(const uint8_t* in, GgufBlock& b);
  void (*dequantize)(const GgufBlock& b, float* y);
};

// The formats loaq writes; nullptr for a type without a codec here (F32/F16/BF16 are not blocks).
const GgufBlockFormat* gguf_block_format(GgmlType type);
// The types that have a row in the table, in ggml's order.
std::vector<GgmlType> gguf_block_types();

// True for F32, F16, BF16, and every type of the table: what gguf_encode and gguf_decode accept.
bool gguf_codec_supported(GgmlType type);
// n values (n a multiple of the type's block) in the type's layout: F32/F16/BF16 converted (round
// to nearest even), block types quantized by llama.cpp's reference quantizer.
std::vector<std::byte> gguf_quantize_ref(GgmlType type, const float* x, int64_t n);
// rows × n_per_row values as llama-quantize writes a tensor: with `imatrix` (n_per_row importance
// weights, one per column: an imatrix entry) each row by the type's weighted quantizer, without
// (nullptr) by the reference quantizer; F32/F16/BF16 converted (the imatrix unused).
std::vector<std::byte> gguf_quantize(GgmlType type, const float* x, int64_t rows, int64_t n_per_row,
                                     const float* imatrix);

// The mean square of a row of n values as ggml's weighted quantizers compute it (Σx² in float, in
// order, over n).
float gguf_row_sigma2(const float* row, int64_t n);
// One block x of format f fitted as llama-quantize fits it: weighted by qw (the imatrix values of
// its f.block columns) in a row of mean square row_sigma2 (gguf_row_sigma2), or by the reference
// quantizer when qw is null or the type ignores an imatrix. b is reset first.
void gguf_fit_block(const GgufBlockFormat& f, const float* x, const float* qw, float row_sigma2,
                    GgufBlock& b);
// The values of n elements stored as `type` in `bytes` (which must hold exactly that many),
// computed as ggml's dequantize_row_* does. Throws loaq::Error for a type without a codec.
void gguf_dequantize(GgmlType type, std::span<const std::byte> bytes, float* y, int64_t n);

}  // namespace loaq
