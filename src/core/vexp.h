#pragma once
// exp for float that the compiler can vectorize (no libm call in the loop body): Cody–Waite range
// reduction x = n·ln2 + r, |r| ≤ ln2/2, e^r by Cephes' expf polynomial, 2^n from the exponent bits.
// Relative error below 3e-7 on [−87.3, 88.3] (tested against std::exp); inputs are clamped to that
// range, so very negative inputs give ~1e-38 instead of 0 (harmless for softmax and log-sum-exp).
#include <bit>
#include <cmath>
#include <cstdint>

namespace loaq {

inline float vexpf(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  return e * std::bit_cast<float>((int32_t(n) + 127) << 23);
}

}  // namespace loaq
