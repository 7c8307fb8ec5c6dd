#include "quant/grid.h"

#include <fmt/format.h>

#include <limits>
#include <vector>

#include "core/error.h"
#include "io/gguf.h"
#include "quant/neuqi.h"

namespace loaq {

std::string grid_fit_name(GridFit f) {
  switch (f) {
    case GridFit::kMinMax:
      return "minmax";
    case GridFit::kMse:
      return "mse";
    case GridFit::kNeuqi:
      return "neuqi";
    case GridFit::kNeuqiInt:
      return "neuqi-int";
  }
  return "?";
}

GridFit parse_grid_fit(const std::string& s) {
  for (GridFit f : {GridFit::kMinMax, GridFit::kMse, GridFit::kNeuqi, GridFit::kNeuqiInt})
    if (grid_fit_name(f) == s) return f;
  fail("--grid '{}': choose one of minmax, mse, neuqi, neuqi-int", s);
}

float GridConfig::qmin() const {
  return (sym && flavor == GridFlavor::kQuarot) ? -std::ldexp(1.0f, bits - 1) : 0.0f;
}

float GridConfig::qmax() const {
  return (sym && flavor == GridFlavor::kQuarot) ? std::ldexp(1.0f, bits - 1) - 1.0f
                                                : std::ldexp(1.0f, bits) - 1.0f;
}

std::string GridConfig::describe() const {
  if (is_gguf())
    return fmt::format(
        "gguf:{} block grid ({}-bit, groups of {}, fitted per block{})", ggml_type_info(gguf).name,
        bits, group,
        gguf_fit == GgufFit::kImatrix ? ", weighted by diag(H)/tokens as imatrix" : "");
  const char* fit_label = fit == GridFit::kMse        ? " mse-clip"
                          : fit == GridFit::kNeuqi    ? " neuqi (real zero, diag-H weighted)"
                          : fit == GridFit::kNeuqiInt ? " neuqi-int (integer zero, diag-H weighted)"
                                                      : "";
  return fmt::format("{}-bit {} {}{}{}", bits,
                     group < 0 ? std::string("per-channel") : fmt::format("group {}", group),
                     sym ? "sym" : "asym", flavor == GridFlavor::kQuarot ? " (QuaRot grid)" : "",
                     fit_label);
}

void validate(const GridConfig& g) {
  if (g.bits < 2 || g.bits > 8) fail("--wbits {}: supported bit-widths are 2 to 8", g.bits);
  if (g.flavor == GridFlavor::kBrevitas && (g.sym || g.fit == GridFit::kMse))
    fail("the brevitas grid is asymmetric min-max only (no --sym, no MSE clip search)");
  if (g.real_zero && (g.sym || g.fit != GridFit::kMinMax))
    fail("a real-valued zero point needs an asymmetric min-max grid (--grid neuqi has its own)");
  if (g.neuqi() && g.sym)
    fail("--grid {}: NeUQI grids are asymmetric (no --sym)", grid_fit_name(g.fit));
  if (g.group == 0 || g.group < -1)
    fail("--group {}: must be -1 (per channel) or positive", g.group);
}

namespace {

// The range of one row exactly as the reference's find_params leaves it before computing scale
// and zero: xmin = min(x.min(), 0), xmax = max(x.max(), 0); symmetric: xmax = max(|xmin|, xmax)
// (IST also sets xmin = −xmax when xmin < 0; QuaRot clamps xmax ≥ 1e-5); an all-zero row gets
// the range [−1, 1].
void minmax_row(const GridConfig& g, const float* w, int64_t cols, float& xmin, float& xmax) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t j = 0; j < cols; ++j) {
    lo = std::min(lo, w[j]);
    hi = std::max(hi, w[j]);
  }
  if (g.sym) {
    hi = std::max(std::abs(lo), hi);
    if (g.flavor == GridFlavor::kQuarot) {
      hi = std::max(hi, 1e-5f);
    } else if (lo < 0) {
      lo = -hi;
    }
  }
  if (!(g.sym && g.flavor == GridFlavor::kQuarot) && lo == 0.0f && hi == 0.0f) {
    lo = -1.0f;
    hi = 1.0f;
  }
  xmin = lo;
  xmax = hi;
}

// scale and zero for a range, as each reference computes them.
void params_for_range(const GridConfig& g, float xmin, float xmax, float& scale, float& zero) {
  const float maxq = g.qmax();
  if (g.sym && g.flavor == GridFlavor::kQuarot) {
    scale = xmax / maxq;
    zero = 0.0f;
  } else if (g.sym) {
    scale = (xmax - xmin) / maxq;
    zero = (maxq + 1.0f) / 2.0f;
  } else {
    const float range = g.flavor == GridFlavor::kQuarot ? std::max(xmax - xmin, 1e-5f) : xmax - xmin;
    scale = range / maxq;
    zero = std::nearbyint(-xmin / scale);
  }
}

}  // namespace

void fit_grid(const GridConfig& g, const float* w, int64_t rows, int64_t cols, int64_t ld,
              float* scale, float* zero, const double* h) {
  if (g.neuqi()) {
    if (!h)
      fail("--grid {}: the NeUQI grid needs diag(H) (calibration statistics)",
           grid_fit_name(g.fit));
    const bool int_zero = g.fit == GridFit::kNeuqiInt;
#pragma omp parallel for schedule(dynamic, 4) if (rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
      const NeuqiFit f = neuqi_fit(w + r * ld, h, cols, g.bits, int_zero);
      scale[r] = f.scale;
      zero[r] = f.zero;
    }
    return;
  }
  if (g.flavor == GridFlavor::kBrevitas) {
    const float maxq = g.qmax();
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = w + r * ld;
      float mn = 0.0f, mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < cols; ++j) {
        mn = std::min(mn, x[j]);
        mx = std::max(mx, x[j]);
      }
      scale[r] = std::max(std::abs(mx - mn), 1e-4f) / maxq;
      const float z = std::abs(mn) / scale[r];
      zero[r] = g.real_zero ? z : std::clamp(std::nearbyint(z), 0.0f, maxq);
    }
    return;
  }
  if (g.real_zero) {  // min-max with the exact (unrounded) zero point
    for (int64_t r = 0; r < rows; ++r) {
      float xmin, xmax;
      minmax_row(g, w + r * ld, cols, xmin, xmax);
      scale[r] = (xmax - xmin) / g.qmax();
      zero[r] = -xmin / scale[r];
    }
    return;
  }
  const float qmin = g.qmin(), qmax = g.qmax();
  const int shrink_steps = int(g.mse_maxshrink * g.mse_grid);
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = w + r * ld;
    float xmin, xmax;
    minmax_row(g, x, cols, xmin, xmax);
    params_for_range(g, xmin, xmax, scale[r], zero[r]);
    if (g.fit != GridFit::kMse) continue;
    // quant.py's search: the range shrunk by p, scale and zero recomputed (the zero kept for a
    // symmetric IST grid), error Σ|Q(x) − x|^norm.
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < shrink_steps; ++i) {
      const auto p = float(1.0 - double(i) / g.mse_grid);
      const float xmin1 = p * xmin, xmax1 = p * xmax;
      float s1, z1;
      if (g.flavor == GridFlavor::kQuarot && g.sym) {
        s1 = xmax1 / qmax;
        z1 = 0.0f;
      } else {
        s1 = (xmax1 - xmin1) / qmax;
        z1 = g.sym ? zero[r] : std::nearbyint(-xmin1 / s1);
      }
      double err = 0.0;
      for (int64_t j = 0; j < cols; ++j) {
        const float q = dequantize(quantize_code(x[j], s1, z1, qmin, qmax), s1, z1);
        err += std::pow(std::abs(q - x[j]), float(g.mse_norm));
      }
      if (err < best) {
        best = err;
        scale[r] = s1;
        zero[r] = z1;
      }
    }
  }
}

}  // namespace loaq
