#include "quant/gguf_grid.h"

#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "quant/gguf_block.h"
#include "quant/gguf_mixture.h"

namespace loaq {

namespace {

const GgufBlockFormat& format_of(GgmlType t) {
  const auto* f = gguf_block_format(t);
  if (!f) fail("GGUF grid: ggml type {} has no block codec", ggml_type_info(t).name);
  return *f;
}

int bits_of(const GgufBlockFormat& f) {
  int b = 0;
  while ((1 << b) - 1 < f.qmax - f.qmin) ++b;
  return b;
}

// The fits, described once.
struct FitInfo {
  GgufFit fit;
  const char* name;
};
constexpr FitInfo kFits[] = {{GgufFit::kImatrix, "imatrix"}, {GgufFit::kUnweighted, "unweighted"}};

// The imatrix values of the columns (float, as llama.cpp holds them), or empty for the
// unweighted fit.
std::vector<float> column_weights(const GridConfig& g, const double* hdiag, int64_t cols) {
  if (g.gguf_fit != GgufFit::kImatrix) return {};
  if (!hdiag)
    fail("GGUF grid {}: the imatrix fit needs the calibration's column weights",
         ggml_type_info(g.gguf).name);
  std::vector<float> qw(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) qw[size_t(c)] = float(hdiag[c]);
  return qw;
}

// Fits row `row` of w block by block (`qw`: the imatrix values, empty: unweighted) and hands
// each block to `each(b0, block)`.
template <class F>
void fit_row(const GgufBlockFormat& f, const Tensor& w, int64_t row, const std::vector<float>& qw,
             F&& each) {
  const float* x = w.ptr() + row * w.cols();
  const float sigma2 = qw.empty() ? 0.0f : gguf_row_sigma2(x, w.cols());
  GgufBlock b;
  for (int64_t b0 = 0; b0 < w.cols(); b0 += f.block) {
    gguf_fit_block(f, x + b0, qw.empty() ? nullptr : qw.data() + b0, sigma2, b);
    each(b0, b);
  }
}

void check_rows(const GgufBlockFormat& f, const Tensor& w) {
  if (w.cols() % f.block != 0)
    fail("GGUF grid {}: rows of {} are not whole blocks of {}", ggml_type_info(f.type).name,
         w.cols(), f.block);
}

// Scale and zero of sub-block j of block b.
void group_grid(const GgufBlockFormat& f, const GgufBlock& b, int j, float& s, float& z) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  float m = 0;  // the value subtracted: x = s·q − m
  if (f.block == 32) {
    s = d;
    if (f.has_min) m = -dmin;  // Q4_1 / Q5_1: x = d·q + m
  } else {
    s = d * float(b.sc[j]);
    if (f.has_min) m = dmin * float(b.mn[j]);
  }
  if (s == 0.0f) s = kGgufTinyScale;
  z = f.has_min ? m / s : gguf_int_zero(f.type);
}

}  // namespace

GridConfig gguf_grid(GgmlType t, GgufFit fit) {
  const auto& f = format_of(t);
  GridConfig g;
  g.bits = bits_of(f);
  g.group = f.group;
  g.sym = f.qmin < 0;  // Q8_0: signed codes, zero 0
  g.flavor = g.sym ? GridFlavor::kQuarot : GridFlavor::kGptq;
  g.real_zero = f.has_min;
  g.fit = GridFit::kMinMax;
  g.gguf = t;
  g.gguf_fit = fit;
  return g;
}

std::string gguf_fit_name(GgufFit f) {
  for (const auto& i : kFits)
    if (i.fit == f) return i.name;
  fail("internal error: GGUF fit {} is not in the table", int(f));
}

GgufFit parse_gguf_fit(const std::string& s) {
  std::string names;
  for (const auto& i : kFits) {
    if (s == i.name) return i.fit;
    names += (names.empty() ? "" : ", ") + std::string(i.name);
  }
  fail("--gguf-fit '{}': choose one of {}", s, names);
}

std::vector<double> gguf_imatrix_weights(const MatD& h, int64_t tokens) {
  if (tokens < 1) fail("GGUF imatrix fit: the statistics cover no calibration tokens");
  std::vector<double> d(static_cast<size_t>(h.rows));
  for (int64_t i = 0; i < h.rows; ++i) d[size_t(i)] = h(i, i) / double(tokens);
  return d;
}

void fit_gguf_grid(const GridConfig& g, const Tensor& w, const double* hdiag, float* scale,
                   float* zero) {
  const auto& f = format_of(g.gguf);
  check_rows(f, w);
  const std::vector<float> qw = column_weights(g, hdiag, w.cols());
  const int64_t M = w.rows(), G = w.cols() / f.group, per_block = f.block / f.group;
#pragma omp parallel for schedule(static) if (M * w.cols() > 65536)
  for (int64_t row = 0; row < M; ++row)
    fit_row(f, w, row, qw, [&](int64_t b0, const GgufBlock& b) {
      for (int64_t j = 0; j < per_block; ++j) {
        const size_t k = size_t(row * G + b0 / f.group + j);
        group_grid(f, b, int(j), scale[k], zero[k]);
      }
    });
}

void fit_gguf_group(const GridConfig& g, const Tensor& w, int64_t c0, int64_t c1, float* scale,
                    float* zero, const double* hdiag) {
  const auto& f = format_of(g.gguf);
  check_rows(f, w);
  if (c0 % f.group != 0 || c1 - c0 != f.group)
    fail("GGUF grid: group [{}, {}) is not one scale group of {}", c0, c1, f.group);
  const std::vector<float> qw = column_weights(g, hdiag, w.cols());
  const int64_t b0 = c0 / f.block * f.block;
  const int j = int((c0 - b0) / f.group);
  for (int64_t row = 0; row < w.rows(); ++row) {
    const float* x = w.ptr() + row * w.cols();
    const float sigma2 = qw.empty() ? 0.0f : gguf_row_sigma2(x, w.cols());
    GgufBlock b;
    gguf_fit_block(f, x + b0, qw.empty() ? nullptr : qw.data() + b0, sigma2, b);
    group_grid(f, b, j, scale[row], zero[row]);
  }
}

std::vector<std::byte> gguf_pack_codes(GgmlType t, const Tensor& w_fit,
                                       const std::vector<int32_t>& codes, const double* hdiag) {
  const auto& f = format_of(t);
  const auto& info = ggml_type_info(t);
  const int64_t M = w_fit.rows(), N = w_fit.cols();
  if (int64_t(codes.size()) != M * N)
    fail("GGUF pack: {} codes for a {}×{} weight", codes.size(), M, N);
  check_rows(f, w_fit);
  const GridConfig g = gguf_grid(t, hdiag ? GgufFit::kImatrix : GgufFit::kUnweighted);
  const std::vector<float> qw = column_weights(g, hdiag, N);
  std::vector<std::byte> out(size_t(M * (N / f.block) * info.bytes));
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  for (int64_t row = 0; row < M; ++row)
    fit_row(f, w_fit, row, qw, [&](int64_t b0, GgufBlock b) {
      for (int64_t i = 0; i < f.block; ++i) {
        const int32_t q = codes[size_t(row * N + b0 + i)];
        if (q < f.qmin || q > f.qmax)
          fail("GGUF pack: code {} outside {}'s range [{}, {}]", q, info.name, f.qmin, f.qmax);
        b.q[i] = int16_t(q);
      }
      f.pack(b, o);
      o += info.bytes;
    });
  return out;
}

GridConfig gguf_grid_for_linear(const std::string& file_type, const std::string& linear,
                                const ModelConfig& c, GgufFit fit) {
  const GgufFileType* ft = gguf_file_type(file_type);
  if (!ft) {
    std::string names;
    for (const auto& n : gguf_file_type_names()) names += (names.empty() ? "" : ", ") + n;
    fail("--grid gguf:{}: not a llama-quantize file type loaq writes ({})", file_type, names);
  }
  constexpr std::pair<const char*, GgufRole> kRoles[] = {
      {"self_attn.q_proj", GgufRole::kAttnQ}, {"self_attn.k_proj", GgufRole::kAttnK},
      {"self_attn.v_proj", GgufRole::kAttnV}, {"self_attn.o_proj", GgufRole::kAttnOutput},
      {"mlp.gate_proj", GgufRole::kFfnGate},  {"mlp.up_proj", GgufRole::kFfnUp},
      {"mlp.down_proj", GgufRole::kFfnDown},
  };
  GgufTensorPlace p;
  const std::string prefix = "model.layers.";
  size_t dot = linear.find('.', prefix.size());
  bool found = false;
  if (linear.rfind(prefix, 0) == 0 && dot != std::string::npos) {
    p.layer = std::stoll(linear.substr(prefix.size(), dot - prefix.size()));
    for (const auto& [path, role] : kRoles)
      if (linear.substr(dot + 1) == path) p.role = role, found = true;
  }
  if (!found) fail("--grid gguf:{}: '{}' is not a decoder linear", file_type, linear);
  p.n_layers = c.num_layers;
  p.n_gqa = c.num_kv_heads > 0 ? c.num_heads / c.num_kv_heads : 1;
  const bool down = p.role == GgufRole::kFfnDown, o = p.role == GgufRole::kAttnOutput;
  p.ncols = down ? c.intermediate_size : o ? c.q_dim() : c.hidden_size;
  p.imatrix = fit == GgufFit::kImatrix;
  const GgmlType t = gguf_tensor_type(*ft, p);
  if (!gguf_block_format(t))
    fail("--grid gguf:{}: {} gets {} (its rows of {} are not whole blocks), which is no block grid",
         file_type, linear, ggml_type_info(t).name, p.ncols);
  return gguf_grid(t, fit);
}

float gguf_int_zero(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0:
      return 8;
    case GgmlType::Q5_0:
      return 16;
    case GgmlType::Q3_K:
      return 4;
    case GgmlType::Q6_K:
      return 32;
    default:
      return 0;
  }
}

}  // namespace loaq
