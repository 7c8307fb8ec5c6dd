#include "export/gguf_inspect.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "io/gguf.h"
#include "quant/gguf_block.h"

namespace loaq {

namespace {

std::string value_text(const GgufValue& v) {
  auto one = [&](size_t i) -> std::string {
    if (v.type == GgufValueType::STRING) return "\"" + v.strings[i] + "\"";
    if (v.type == GgufValueType::F32 || v.type == GgufValueType::F64)
      return fmt::format("{}", v.floats[i]);
    if (v.type == GgufValueType::BOOL) return v.ints[i] ? "true" : "false";
    if (v.type == GgufValueType::U64) return fmt::format("{}", uint64_t(v.ints[i]));
    return fmt::format("{}", v.ints[i]);
  };
  if (!v.is_array) return one(0);
  std::string s = fmt::format("[{} values", v.size());
  for (size_t i = 0; i < std::min<size_t>(v.size(), 3); ++i) s += (i ? ", " : ": ") + one(i);
  return s + (v.size() > 3 ? ", ...]" : "]");
}

}  // namespace

GgufInspection inspect_gguf(const std::string& path, bool headers_only) {
  const GgufFile g(path);
  const auto& h = g.header();
  GgufInspection r;
  std::string& t = r.text;
  t += fmt::format("{}: GGUF v{}, {} metadata keys, {} tensors, alignment {}\n", path, h.version,
                   h.kv.size(), h.tensors.size(), h.alignment);
  for (const auto& [k, v] : h.kv) t += fmt::format("  {} = {}\n", k, value_text(v));
  std::map<std::string, std::pair<int64_t, uint64_t>> by_type;
  int64_t params = 0;
  for (const auto& ti : h.tensors) {
    auto& e = by_type[ggml_type_info(ti.type).name];
    e.first += 1;
    e.second += ti.nbytes;
    params += ti.numel();
  }
  t += fmt::format("parameters: {}\n", params);
  for (const auto& [name, e] : by_type)
    t += fmt::format("  {:<6} {:>5} tensors {:>14} bytes\n", name, e.first, e.second);
  if (!headers_only) {
    int64_t checked = 0;
    std::vector<float> buf;
    for (const auto& ti : h.tensors) {
      if (!gguf_codec_supported(ti.type)) continue;
      buf.resize(size_t(ti.numel()));
      gguf_dequantize(ti.type, g.data(ti), buf.data(), ti.numel());
      for (float v : buf)
        if (!std::isfinite(v)) {
          r.problems.push_back(fmt::format("tensor '{}' holds a non-finite value", ti.name));
          break;
        }
      ++checked;
    }
    t += fmt::format("data: {} of {} tensors decoded{}\n", checked, h.tensors.size(),
                     r.problems.empty() ? ", all finite" : "");
    for (const auto& p : r.problems) t += "  problem: " + p + "\n";
  }
  return r;
}

}  // namespace loaq
