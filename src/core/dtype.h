#pragma once
// Element types of checkpoint tensors and conversions between them.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace loaq {

enum class DType { F32, F16, BF16, F64, I8, U8, I16, I32, I64, BOOL };

// Size of one element in bytes.
size_t dtype_size(DType t);
// The safetensors spelling ("F32", "BF16", ...).
std::string_view dtype_name(DType t);
// Parses the safetensors spelling; nullopt for anything unknown.
std::optional<DType> parse_dtype(std::string_view s);
// True for the floating types a weight may have (F32, F16, BF16, F64).
bool is_float(DType t);

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, as torch's float -> bfloat16 conversion; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

// IEEE binary16 conversions (round to nearest even), exact for every finite half value.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Converts n elements of type `t` at `src` (little-endian, any alignment) to float.
void convert_to_f32(DType t, const void* src, size_t n, float* dst);

}  // namespace loaq
