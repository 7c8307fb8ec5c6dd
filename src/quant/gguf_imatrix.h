#pragma once
// llama.cpp's importance-weighted block quantizers (ggml-quants.c's quantize_row_*_impl with
// quant_weights: what llama-quantize runs for a tensor that has an imatrix entry), reproduced
// operation by operation: the quantize_imatrix column of quant/gguf_block.cc's table. Each fits
// one block x with the block's importance weights qw (the imatrix values of its columns);
// `row_sigma2` is the mean square of the whole row that holds the block (gguf_row_sigma2), which
// the 32-element types weight by, while the K-quants use their own super-block's. Q6_K's is
// gguf_block.cc's reference quantizer given the weights; Q8_0 has none (llama.cpp ignores the
// imatrix for it). Internal to the quant module.
#include "quant/gguf_block.h"

namespace loaq::gguf_imatrix {

void quantize_q4_0(const float* x, const float* qw, float row_sigma2, GgufBlock& b);
void quantize_q5_0(const float* x, const float* qw, float row_sigma2, GgufBlock& b);
void quantize_q4_1(const float* x, const float* qw, float row_sigma2, GgufBlock& b);
void quantize_q5_1(const float* x, const float* qw, float row_sigma2, GgufBlock& b);
void quantize_q2_k(const float* x, const float* qw, float row_sigma2, GgufBlock& b);
void quantize_q3_k(const float* x, const float* qw, float row_sigma2, GgufBlock& b);
void quantize_q4_k(const float* x, const float* qw, float row_sigma2, GgufBlock& b);
void quantize_q5_k(const float* x, const float* qw, float row_sigma2, GgufBlock& b);

}  // namespace loaq::gguf_imatrix
