#include "io/lowrank_state.h"

#include <fmt/ranges.h>

#include <cstring>
#include <set>

#include "core/error.h"

namespace loaq {

namespace {

constexpr std::string_view kInfix = ".lowrank.";

template <class T>
std::span<const std::byte> as_bytes_of(const std::vector<T>& v) {
  return std::as_bytes(std::span(v));
}

void add_factor(const std::string& prefix, const RowQuantMatrix& m, LowRankStateTensors& t) {
  if (m.quantized()) {
    t.tensors.push_back({prefix + ".codes", DType::I8, {m.rows, m.cols}, as_bytes_of(m.codes)});
    t.tensors.push_back({prefix + ".scale", DType::F32, {m.rows}, as_bytes_of(m.scale)});
  } else {
    t.tensors.push_back({prefix + ".weight", DType::F32, {m.rows, m.cols}, as_bytes_of(m.values)});
  }
}

RowQuantMatrix read_factor(const SafetensorsSet& s, const std::string& prefix, int64_t rows,
                           int64_t cols, int bits) {
  RowQuantMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.bits = bits;
  if (bits < 16) {
    m.codes = raw_values<int8_t>(s, s.need(prefix + ".codes", DType::I8, {rows, cols}));
    m.scale = raw_values<float>(s, s.need(prefix + ".scale", DType::F32, {rows}));
  } else {
    m.values = raw_values<float>(s, s.need(prefix + ".weight", DType::F32, {rows, cols}));
  }
  return m;
}

}  // namespace

bool is_lowrank_tensor(std::string_view name) {
  return name.find(kInfix) != std::string::npos;
}

LowRankStateTensors lowrank_state_tensors(const std::map<std::string, LowRankBranch>& branches) {
  LowRankStateTensors t;
  t.ints.reserve(branches.size());  // views into it must stay valid
  for (const auto& [name, b] : branches) {
    validate(b, name);
    const std::string p = name + ".lowrank";
    t.ints.push_back({int32_t(b.rank()), b.l1.bits, b.act_bits});
    if (b.l1.bits != b.l2.bits)
      fail("{}: L1 and L2 have different bit widths ({} and {})", name, b.l1.bits, b.l2.bits);
    t.tensors.push_back({p + ".bits", DType::I32, {3}, std::as_bytes(std::span(t.ints.back()))});
    add_factor(p + ".l1", b.l1, t);
    add_factor(p + ".l2", b.l2, t);
  }
  return t;
}

void add_lowrank_to_safetensors(const std::string& path,
                                const std::map<std::string, LowRankBranch>& branches) {
  LowRankStateTensors lt = lowrank_state_tensors(branches);
  std::vector<TensorToWrite> all;
  std::map<std::string, std::string> md;
  std::vector<std::vector<std::byte>> keep;
  {
    const SafetensorsFile f(path);
    md = f.metadata();
    keep.reserve(f.tensors().size());
    for (const auto& ti : f.tensors()) {
      for (const auto& [name, b] : branches)
        if (ti.name.starts_with(name + std::string(kInfix)))
          fail("{}: linear '{}' already has a low-rank branch", path, name);
      const auto bytes = f.bytes(ti);
      keep.emplace_back(bytes.begin(), bytes.end());
      all.push_back({ti.name, ti.dtype, ti.shape, std::span<const std::byte>(keep.back())});
    }
  }
  for (auto& t : lt.tensors) all.push_back(t);
  md[kLowRankMetaKey] = kLowRankMetaValue;
  write_safetensors(path, std::move(all), md);
}

std::vector<std::string> lowrank_linears(const SafetensorsSet& s) {
  std::map<std::string, std::set<std::string>> parts;
  for (const TensorInfo* t : s.tensors()) {
    const size_t at = t->name.find(kInfix);
    if (at == std::string::npos) continue;
    parts[t->name.substr(0, at)].insert(t->name.substr(at + kInfix.size()));
  }
  if (parts.empty()) return {};
  const auto& md = s.metadata();
  if (auto it = md.find(kLowRankMetaKey); it == md.end() || it->second != kLowRankMetaValue)
    fail("{}: low-rank branch tensors without the metadata {} = '{}'", s.path(), kLowRankMetaKey,
         kLowRankMetaValue);
  static const std::set<std::string> quantized = {"bits", "l1.codes", "l1.scale", "l2.codes",
                                                  "l2.scale"},
                                     full = {"bits", "l1.weight", "l2.weight"};
  std::vector<std::string> names;
  for (const auto& [base, p] : parts) {
    if (p != quantized && p != full)
      fail(
          "{}: the low-rank branch of '{}' has parts {{{}}}; expected bits with l1/l2 codes and "
          "scale, or with l1/l2 weight",
          s.path_of(base + ".lowrank.bits"), base, fmt::join(p, ", "));
    names.push_back(base);
  }
  return names;
}

LowRankBranch read_lowrank_branch(const SafetensorsSet& s, const std::string& linear, int64_t out,
                                  int64_t in) {
  const std::string p = linear + ".lowrank";
  const auto bits = raw_values<int32_t>(s, s.need(p + ".bits", DType::I32, {3}));
  const std::string& f = s.path_of(p + ".bits");
  const int64_t r = bits[0];
  const int wb = bits[1], ab = bits[2];
  if (r < 1) fail("{}: {}.bits gives rank {}", f, p, r);
  if (wb != 16 && (wb < 2 || wb > 8))
    fail("{}: {}.bits gives weight bits {} (2..8 or 16)", f, p, wb);
  const TensorInfo* l1 = s.find(p + (wb < 16 ? ".l1.codes" : ".l1.weight"));
  const TensorInfo* l2 = s.find(p + (wb < 16 ? ".l2.codes" : ".l2.weight"));
  if (!l1 || !l2 || l1->shape.size() != 2 || l2->shape.size() != 2)
    fail("{}: the branch of '{}' lacks its 2-D {} factors for {} bits", f, linear,
         wb < 16 ? "codes" : "weight", wb);
  const int64_t bin = l1->shape[1], bout = l2->shape[0];
  if ((in > 0 && bin != in) || (out > 0 && bout != out))
    fail("{}: the branch of '{}' is {}×{} but the linear is {}×{}", f, linear, bout, bin, out, in);
  LowRankBranch b;
  b.l1 = read_factor(s, p + ".l1", r, bin, wb);
  b.l2 = read_factor(s, p + ".l2", bout, r, wb);
  b.act_bits = ab;
  validate(b, f + ": " + linear);
  return b;
}

}  // namespace loaq
