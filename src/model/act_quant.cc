#include "model/act_quant.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace loaq {

void validate(const ActQuant& a) {
  if (a.bits < 2 || a.bits > 16) fail("--abits must be between 2 and 16 (got {})", a.bits);
  if (!(a.clip > 0.0f && a.clip <= 1.0f)) fail("--a-clip must be in (0, 1] (got {})", a.clip);
}

void quantize_activations(const ActQuant& a, float* x, int64_t rows, int64_t cols) {
  if (!a.enabled()) return;
  const auto maxq = float((1 << a.bits) - 1);
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    float mn = 0.0f, mx = 0.0f;
    for (int64_t i = 0; i < cols; ++i) {
      mn = std::min(mn, xr[i]);
      mx = std::max(mx, xr[i]);
    }
    mn *= a.clip;
    mx *= a.clip;
    if (mn == 0.0f && mx == 0.0f) {
      mn = -1.0f;
      mx = 1.0f;
    }
    const float scale = (mx - mn) / maxq;
    const float zero = std::nearbyint(-mn / scale);
    for (int64_t i = 0; i < cols; ++i) {
      const float code = std::clamp(std::nearbyint(xr[i] / scale) + zero, 0.0f, maxq);
      xr[i] = scale * (code - zero);
    }
  }
}

const Tensor& quantized_input(const ActQuant& a, const Tensor& x, Tensor& buf) {
  if (!a.enabled()) return x;
  buf = x;
  const int64_t cols = x.shape.back();
  quantize_activations(a, buf.ptr(), x.numel() / cols, cols);
  return buf;
}

}  // namespace loaq
