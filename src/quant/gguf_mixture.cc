#include "quant/gguf_mixture.h"

#include "quant/gguf_block.h"

namespace loaq {

namespace {

constexpr GgufFileType kFileTypes[] = {
    {"Q4_0", 2, GgmlType::Q4_0},    {"Q4_1", 3, GgmlType::Q4_1},    {"Q8_0", 7, GgmlType::Q8_0},
    {"Q5_0", 8, GgmlType::Q5_0},    {"Q5_1", 9, GgmlType::Q5_1},    {"Q2_K", 10, GgmlType::Q2_K},
    {"Q3_K_S", 11, GgmlType::Q3_K}, {"Q3_K_M", 12, GgmlType::Q3_K}, {"Q4_K_S", 14, GgmlType::Q4_K},
    {"Q4_K_M", 15, GgmlType::Q4_K}, {"Q5_K_S", 16, GgmlType::Q5_K}, {"Q5_K_M", 17, GgmlType::Q5_K},
    {"Q6_K", 18, GgmlType::Q6_K},
};

bool is(const GgufFileType& ft, const char* name) {
  return std::string(ft.name) == name;
}

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third in between.
bool use_more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

GgmlType mixture_type(const GgufFileType& ft, const GgufTensorPlace& p) {
  const GgmlType base = ft.base;
  const int64_t i = p.layer, n = p.n_layers;
  switch (p.role) {
    case GgufRole::kTokenEmbd:
      if (!p.tied) return base;
      [[fallthrough]];  // a tied embedding is quantized as the head
    case GgufRole::kOutput:
      if (p.ncols % ggml_type_info(base).block != 0) return GgmlType::Q8_0;
      return base == GgmlType::Q8_0 ? GgmlType::Q8_0 : GgmlType::Q6_K;
    case GgufRole::kAttnV:
      if (is(ft, "Q2_K")) return p.n_gqa >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
      if (is(ft, "Q3_K_M")) return i < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
      if ((is(ft, "Q4_K_M") || is(ft, "Q5_K_M")) && use_more_bits(i, n)) return GgmlType::Q6_K;
      if (is(ft, "Q4_K_S") && i < 4) return GgmlType::Q5_K;
      return base;
    case GgufRole::kFfnDown:
      if (is(ft, "Q2_K")) return GgmlType::Q3_K;
      if (is(ft, "Q3_K_M")) return i < n / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
      if ((is(ft, "Q4_K_M") || is(ft, "Q5_K_M")) && use_more_bits(i, n)) return GgmlType::Q6_K;
      if (is(ft, "Q4_K_S") && i < n / 8) return GgmlType::Q5_K;
      // With an imatrix, the first eighth of ffn_down gets the min-carrying type (llama.cpp's
      // guard against their going astray; only models of 8 layers or more have such layers).
      if (p.imatrix && i < n / 8 && is(ft, "Q4_0")) return GgmlType::Q4_1;
      if (p.imatrix && i < n / 8 && is(ft, "Q5_0")) return GgmlType::Q5_1;
      return base;
    case GgufRole::kAttnOutput:
      if (is(ft, "Q2_K")) return GgmlType::Q3_K;
      if (is(ft, "Q3_K_M")) return GgmlType::Q4_K;
      return base;
    case GgufRole::kAttnQ:
    case GgufRole::kAttnK:
    case GgufRole::kFfnGate:
    case GgufRole::kFfnUp:
      return base;
  }
  return base;
}

}  // namespace

const GgufFileType* gguf_file_type(const std::string& name) {
  for (const auto& f : kFileTypes)
    if (name == f.name) return &f;
  return nullptr;
}

std::vector<std::string> gguf_file_type_names() {
  std::vector<std::string> v;
  for (const auto& f : kFileTypes) v.push_back(f.name);
  return v;
}

GgmlType gguf_tensor_type(const GgufFileType& ft, const GgufTensorPlace& p, bool pure) {
  const GgmlType t = pure ? ft.base : mixture_type(ft, p);
  // llama-quant.cpp's tensor_type_fallback.
  if (p.ncols % ggml_type_info(t).block == 0) return t;
  const auto* f = gguf_block_format(t);
  const GgmlType fb = f ? f->fallback : GgmlType::F16;
  return p.ncols % ggml_type_info(fb).block == 0 ? fb : GgmlType::F16;
}

bool gguf_role_of(const std::string& name, GgufRole& role, int64_t& layer) {
  layer = 0;
  if (name == "token_embd.weight") return role = GgufRole::kTokenEmbd, true;
  if (name == "output.weight") return role = GgufRole::kOutput, true;
  std::string r, suffix;
  if (!split_layer_tensor_name(name, "blk.", layer, r, suffix) || suffix != "weight") return false;
  if (r != "attn_q" && r != "attn_k" && r != "attn_v" && r != "attn_output" && r != "ffn_gate" &&
      r != "ffn_up" && r != "ffn_down")
    return false;
  role = r == "attn_q"        ? GgufRole::kAttnQ
         : r == "attn_k"      ? GgufRole::kAttnK
         : r == "attn_v"      ? GgufRole::kAttnV
         : r == "attn_output" ? GgufRole::kAttnOutput
         : r == "ffn_gate"    ? GgufRole::kFfnGate
         : r == "ffn_up"      ? GgufRole::kFfnUp
                              : GgufRole::kFfnDown;
  return true;
}

bool split_layer_tensor_name(const std::string& name, const std::string& prefix, int64_t& layer,
                             std::string& middle, std::string& suffix) {
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size();
  const size_t d0 = i;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') ++i;
  if (i == d0 || i - d0 > 9 || i >= name.size() || name[i] != '.') return false;
  const size_t last = name.rfind('.');
  if (last <= i + 1 || last + 1 >= name.size()) return false;  // a non-empty middle and suffix
  layer = std::stoll(name.substr(d0, i - d0));
  middle = name.substr(i + 1, last - i - 1);
  suffix = name.substr(last + 1);
  return true;
}

}  // namespace loaq
