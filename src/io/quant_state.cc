#include "io/quant_state.h"

#include <cmath>
#include <cstddef>

#include "core/dequantize.h"
#include "core/error.h"

namespace loaq {

bool has_linear_state(const SafetensorsSet& s, const std::string& linear) {
  return s.find(linear + ".codes") != nullptr;
}

std::vector<int64_t> linear_state_shape(const SafetensorsSet& s, const std::string& linear) {
  const TensorInfo* c = s.find(linear + ".codes");
  if (!c) fail("{}: no integer state for '{}' (missing '{}.codes')", s.path(), linear, linear);
  if (c->dtype != DType::U8 && c->dtype != DType::I8)
    fail("{}: tensor '{}.codes' has dtype {}, expected U8 or I8", s.path_of(c->name), linear,
         dtype_name(c->dtype));
  if (c->shape.size() != 2)
    fail("{}: tensor '{}.codes' has shape {}, expected [out, in]", s.path_of(c->name), linear,
         shape_str(c->shape));
  return c->shape;
}

Tensor dequantize_linear(const SafetensorsSet& s, const std::string& linear) {
  const std::vector<int64_t> shape = linear_state_shape(s, linear);
  const int64_t out = shape[0], in = shape[1];
  const TensorInfo* st = s.find(linear + ".scale");
  if (!st) fail("{}: missing tensor '{}.scale'", s.path(), linear);
  if (st->shape.size() != 2 || st->shape[0] != out || st->shape[1] < 1)
    fail("{}: tensor '{}.scale' has shape {}, expected [{}, groups]", s.path_of(st->name), linear,
         shape_str(st->shape), out);
  const int64_t groups = st->shape[1];
  const Tensor scale = s.read_f32(s.need(linear + ".scale", DType::F32, {out, groups}));
  const Tensor zero = s.read_f32(s.need(linear + ".zero", DType::F32, {out, groups}));
  const auto g_idx = raw_values<int32_t>(s, s.need(linear + ".g_idx", DType::I32, {in}));
  for (int64_t c = 0; c < in; ++c)
    if (g_idx[size_t(c)] < 0 || g_idx[size_t(c)] >= groups)
      fail("{}: {}.g_idx[{}] = {} is outside [0, {})", s.path_of(linear + ".g_idx"), linear, c,
           g_idx[size_t(c)], groups);
  const TensorInfo& ct = *s.find(linear + ".codes");
  const auto bytes = s.bytes(ct);
  Tensor w({out, in});
  for (int64_t o = 0; o < out; ++o) {
    const size_t r = size_t(o * in);
    const float* sc = scale.data.data() + o * groups;
    const float* ze = zero.data.data() + o * groups;
    if (ct.dtype == DType::I8)
      dequantize_row(reinterpret_cast<const int8_t*>(bytes.data()) + r, sc, ze, g_idx.data(), in,
                     w.data.data() + r);
    else
      dequantize_row(reinterpret_cast<const uint8_t*>(bytes.data()) + r, sc, ze, g_idx.data(), in,
                     w.data.data() + r);
    for (int64_t c = 0; c < in; ++c)
      if (!std::isfinite(w.data[r + size_t(c)]))
        fail("{}: the weight of '{}' dequantizes to a non-finite value at [{}, {}]",
             s.path_of(ct.name), linear, o, c);
  }
  return w;
}

void release_linear_state(const SafetensorsSet& s, const std::string& linear) {
  for (const char* part : {".codes", ".scale", ".zero", ".g_idx", ".perm"})
    if (const TensorInfo* t = s.find(linear + part)) s.release(*t);
}

}  // namespace loaq
