#pragma once
#include <algorithm>
#include <cmath>

namespace loaq {

inline float quantize_code(float w, float scale, float zero, float qmin, float qmax) {
  const float r = std::nearbyint(w / scale) + zero;  // default rounding mode: half to even
  return std::clamp(r, qmin, qmax);
}

inline float quantize_code_real_zero(float w, float scale, float zero, float qmin, float qmax) {
  return std::clamp(std::nearbyint(w / scale + zero), qmin, qmax);
}

}  // namespace loaq
