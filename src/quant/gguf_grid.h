#pragma once
// A GGUF block type as a grid of the solvers (grid.h's GridConfig with `gguf` set): the grid is
// fixed before the solve (static groups, in the original column order, as GGUF blocks run): each
// block (or 256-element super-block) of each row is fitted as llama.cpp's reference quantizer
// fits it (quant/gguf_block.h: fp16 d and min, the quantized sub-block scales), then frozen as one
// (scale, zero) per group whose dequantization scale·(code − zero) is the block's own,
//   Q8_0 / Q4_0 / Q5_0:  scale d, zero 0 / 8 / 16;          Q4_1 / Q5_1: scale d, zero −m/d;
//   Q2_K / Q4_K / Q5_K:  scale d·sc, zero dmin·mn / (d·sc);  Q3_K / Q6_K: scale d·sc, zero 4 / 32.
// The codes any solver then picks are the block's stored codes: gguf_pack_codes writes them with
// the frozen block headers into llama.cpp's bytes. A group whose scale is 0 (d or sc 0) gets a
// tiny scale so that every code dequantizes to its block value (the min, or 0).
// The block fit is llama-quantize's without an imatrix (GgufFit::kUnweighted), or with one
// (kImatrix): its weighted quantizer with each column's mean square input over the calibration,
// diag(H) / tokens (gguf_imatrix_weights), what llama-imatrix records from the same activations.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/linalg.h"
#include "core/tensor.h"
#include "io/gguf.h"
#include "io/model_config.h"
#include "quant/grid.h"

namespace loaq {

// The solver grid of block type `t`: bits, group (the scale's group: 32, or the sub-block),
// symmetric signed codes for Q8_0, a real-valued zero for the types with a min, the block fit
// `fit`. Throws for a type without a codec.
GridConfig gguf_grid(GgmlType t, GgufFit fit = GgufFit::kUnweighted);

// The fits by name (imatrix, unweighted); parse_gguf_fit throws naming the choices.
std::string gguf_fit_name(GgufFit f);
GgufFit parse_gguf_fit(const std::string& s);

// The column weights of an imatrix fit from a linear's statistics H = Σ x̂ x̂ᵀ over `tokens`
// calibration tokens: diag(H) / tokens, each input's mean square. Throws when tokens < 1.
std::vector<double> gguf_imatrix_weights(const MatD& h, int64_t tokens);

// The stand-in a fitted group stores for a zero scale (so that scale · (code − zero) stays 0).
inline constexpr float kGgufTinyScale = 1e-30f;
// The integer zero of the symmetric types, whose stored codes are offset by it (Q4_0: 8, Q5_0:
// 16, Q3_K: 4, Q6_K: 32); 0 for the others.
float gguf_int_zero(GgmlType t);

// Fits every scale group of w [rows, cols] (rows of whole blocks, original column order) for the
// GGUF grid `g`, each block once; scale/zero [rows, cols / g.group] (row-major). `hdiag` [cols]:
// the column weights of an imatrix fit (gguf_imatrix_weights), which it requires; the unweighted
// fit ignores them.
void fit_gguf_grid(const GridConfig& g, const Tensor& w, const double* hdiag, float* scale,
                   float* zero);
// The same for the one group of columns [c0, c1) (inside one block) of every row, from the whole
// block that holds it; scale/zero [rows].
void fit_gguf_group(const GridConfig& g, const Tensor& w, int64_t c0, int64_t c1, float* scale,
                    float* zero, const double* hdiag = nullptr);

// The llama.cpp bytes of codes [rows, cols] (the solver's, original column order) on the grid
// fitted to `w_fit` (the weight the grid was fitted on: the same fit, so the same headers), by
// the imatrix fit with the column weights `hdiag`, or the unweighted one when it is null.
std::vector<std::byte> gguf_pack_codes(GgmlType t, const Tensor& w_fit,
                                       const std::vector<int32_t>& codes,
                                       const double* hdiag = nullptr);

// --grid gguf:FILE_TYPE (a llama-quantize file type: Q4_K_M, Q2_K, ...): the grid of the linear
// `linear` ("model.layers.3.self_attn.v_proj") of a model `c`, with the block type that
// llama-quantize's mixture gives that tensor (quant/gguf_mixture.h) with an imatrix when `fit` is
// kImatrix, without otherwise. Throws for an unknown file type or linear name.
GridConfig gguf_grid_for_linear(const std::string& file_type, const std::string& linear,
                                const ModelConfig& c, GgufFit fit = GgufFit::kUnweighted);

}  // namespace loaq
