#include "export/quant_dir.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/dequantize.h"
#include "core/error.h"
#include "io/json_file.h"
#include "io/lowrank_state.h"
#include "io/quant_state.h"
#include "quant/gguf_grid.h"

namespace loaq {

namespace fs = std::filesystem;

namespace {

const char* const kLinearPaths[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                    "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                    "mlp.down_proj"};

void only_known_keys(const nlohmann::ordered_json& j, const std::set<std::string>& known,
                     const std::string& file, const std::string& where) {
  if (!j.is_object()) fail("{}: '{}' is not an object", file, where);
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key()))
      fail(
          "{}: '{}{}' is not a setting this loaq version can export (a feature the export format "
          "may not "
          "represent); refusing rather than ignoring it",
          file, where.empty() ? "" : where + ".", it.key());
}

// The report's settings: every key must be known, so that a feature added later (rotations,
// activation quantization, low-rank branches...) is refused until the exporter learns it.
void check_report(const nlohmann::ordered_json& r, const std::string& file) {
  only_known_keys(r,
                  {"model", "settings", "timings", "stream_bytes", "cache_bytes", "linears",
                   "eval_settings", "ppl", "details", "memory", "distributed"},
                  file, "");
  if (!r.contains("settings")) fail("{}: missing field 'settings'", file);
  const auto& s = r["settings"];
  only_known_keys(s,
                  {"method", "grid", "solver", "gptaq_alpha", "qronos_alpha", "loaq", "calibration",
                   "activations", "lowrank", "streams", "output"},
                  file, "settings");
  if (s.contains("output"))
    only_known_keys(s["output"], {"max_shard_bytes"}, file, "settings.output");
  if (s.contains("lowrank"))
    only_known_keys(s["lowrank"],
                    {"rule", "rank", "first", "wbits", "abits", "weighted", "steps", "lr",
                     "patience", "svd", "oversample", "power_iters", "seed", "describe"},
                    file, "settings.lowrank");
  if (s.contains("activations") &&
      json_get_or<int>(s["activations"], "bits", file + " settings.activations", 16) != 16)
    fail(
        "{}: the model quantizes activations (settings.activations.bits = {}); neither a GPTQ nor "
        "a "
        "plain Hugging Face checkpoint can represent that, refusing to export it",
        file, s["activations"]["bits"].dump());
  if (!s.contains("method") || !s["method"].is_string())
    fail("{}: missing field 'settings.method'", file);
  const std::string m = s["method"];
  static const std::set<std::string> methods = {"none", "rtn", "gptq", "gptaq", "qronos", "loaq"};
  if (!methods.count(m))
    fail("{}: settings.method '{}' is not a method this loaq version can export", file, m);
  if (s.contains("grid"))
    only_known_keys(
        s["grid"],
        {"bits", "group", "sym", "fit", "mse", "neuqi", "describe", "gguf_file_type", "gguf_fit"},
        file, "settings.grid");
  if (s.contains("grid") && s["grid"].contains("gguf_fit")) {
    const auto& f = s["grid"]["gguf_fit"];
    bool known = false;
    for (GgufFit fit : {GgufFit::kImatrix, GgufFit::kUnweighted})
      known |= f.is_string() && f.get<std::string>() == gguf_fit_name(fit);
    if (!known) fail("{}: settings.grid.gguf_fit {} is not a GGUF block fit", file, f.dump());
  }
  if (s.contains("solver"))
    only_known_keys(s["solver"], {"percdamp", "blocksize", "act_order", "static_groups"}, file,
                    "settings.solver");
}

}  // namespace

std::vector<std::string> known_tensor_names(const ModelConfig& c) {
  std::vector<std::string> v = {"model.embed_tokens.weight", "model.norm.weight"};
  if (!c.tie_word_embeddings) v.push_back("lm_head.weight");
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    v.push_back(p + "input_layernorm.weight");
    v.push_back(p + "post_attention_layernorm.weight");
    if (c.qk_norm) {
      v.push_back(p + "self_attn.q_norm.weight");
      v.push_back(p + "self_attn.k_norm.weight");
    }
    for (const char* lin : kLinearPaths) {
      const std::string base = p + lin;
      v.push_back(base + ".weight");
      const std::string_view s(lin);
      const bool bias = (s == "self_attn.o_proj")    ? c.o_bias
                        : s.starts_with("self_attn") ? c.qkv_bias
                                                     : c.mlp_bias;
      if (bias) v.push_back(base + ".bias");
    }
  }
  std::sort(v.begin(), v.end());
  return v;
}

void copy_tokenizer_files(const std::string& src, const std::string& dst) {
  for (const char* f :
       {"tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "added_tokens.json", "vocab.json", "merges.txt", "generation_config.json"}) {
    const fs::path from = fs::path(src) / f;
    if (!fs::exists(from)) continue;
    std::error_code ec;
    fs::copy_file(from, fs::path(dst) / f, fs::copy_options::overwrite_existing, ec);
    if (ec) fail("cannot copy '{}' to '{}': {}", from.string(), dst, ec.message());
  }
}

QuantDir::QuantDir(std::string dir) : dir_(std::move(dir)) {
  const fs::path d(dir_);
  if (!fs::is_directory(d)) fail("'{}' is not a directory", dir_);
  const fs::path report = d / "report.json", config = d / "config.json";
  if (!fs::exists(report) || !SafetensorsSet::present(dir_, "model") || !fs::exists(config))
    fail(
        "'{}' is not a loaq quantization output (it needs config.json, model.safetensors or its "
        "shards and report.json; give the directory that `loaq quantize --out` wrote)",
        dir_);
  config_json_ = read_ordered_json_file(config.string());
  config_ = parse_model_config(parse_json(config_json_.dump(), config.string()), config.string());
  // The exports hold the main layers (a PEFT adapter or --merge-lowrank carries the branches) and
  // every weight, so their config.json asks neither for branches nor for dequantization at load.
  if ((config_.loaq.lowrank || config_.loaq.weights_in_state) && config_json_.contains("loaq")) {
    config_.loaq.lowrank = false;
    config_.loaq.weights_in_state = false;
    const nlohmann::json rest = loaq_section_json(config_);
    if (rest.is_null()) {
      config_json_.erase("loaq");
    } else {
      config_json_["loaq"].erase("lowrank_branches");
      config_json_["loaq"].erase("weights_in_quant_state");
    }
  }
  if (config_json_.contains("quantization_config"))
    fail(
        "{}: the model already carries a quantization_config; export takes the output of `loaq "
        "quantize`",
        config.string());
  report_ = read_ordered_json_file(report.string());
  check_report(report_, report.string());

  model_.emplace(dir_, "model");
  const auto& md = model_->metadata();
  if (auto it = md.find("producer"); it == md.end() || it->second != "loaq")
    fail(
        "{}: not written by loaq (no metadata producer=loaq); give the directory that `loaq "
        "quantize --out` wrote",
        model_->path());
  const auto expect = known_tensor_names(config_);
  for (const TensorInfo* t : model_->tensors())
    if (!std::binary_search(expect.begin(), expect.end(), t->name))
      fail(
          "{}: tensor '{}' is not a weight of a {} model; refusing to export what this loaq "
          "version does not know",
          model_->path_of(t->name), t->name, config_.architecture);
  weights_.emplace(dir_);  // refuses weights_in_quant_state without quant_state
  for (const auto& n : expect)
    if (!weights_->has(n)) fail("{}: missing tensor '{}'", model_->path(), n);

  if (!SafetensorsSet::present(dir_, "quant_state")) return;
  state_.emplace(dir_, "quant_state");
  const std::string sp = state_->path();
  std::map<std::string, std::string> m = state_->metadata();
  for (const auto& [k, v] : m)
    if (k != "producer" && k != "bits" && k != "group_size" && k != "sym" && k != "real_zero" &&
        k != "grid" && k != "dequantize" && k != kLowRankMetaKey)
      fail(
          "{}: metadata '{}' is not known to this loaq version's exporter; refusing rather than "
          "ignoring it",
          sp, k);
  for (const char* k : {"producer", "bits", "group_size", "sym", "real_zero", "dequantize"})
    if (!m.count(k)) fail("{}: missing metadata '{}'", sp, k);
  if (m["producer"] != "loaq") fail("{}: metadata producer is '{}', not loaq", sp, m["producer"]);
  if (m["dequantize"] != "scale * (code - zero)")
    fail("{}: dequantization rule '{}' is not the one this exporter knows (scale * (code - zero))",
         sp, m["dequantize"]);
  auto boolean = [&](const char* k) {
    if (m[k] != "true" && m[k] != "false")
      fail("{}: metadata '{}' is '{}', not true/false", sp, k, m[k]);
    return m[k] == "true";
  };
  try {
    size_t pos = 0;
    meta_.bits = std::stoi(m["bits"], &pos);
    if (pos != m["bits"].size()) throw std::invalid_argument("bits");
    meta_.group_size = std::stoll(m["group_size"], &pos);
    if (pos != m["group_size"].size()) throw std::invalid_argument("group_size");
  } catch (const std::exception&) {
    fail("{}: metadata bits '{}' / group_size '{}' are not integers", sp, m["bits"],
         m["group_size"]);
  }
  if (meta_.bits < 1 || meta_.bits > 8) fail("{}: metadata bits {} outside 1..8", sp, meta_.bits);
  if (meta_.group_size == 0 || meta_.group_size < -1)
    fail("{}: metadata group_size {} invalid", sp, meta_.group_size);
  meta_.sym = boolean("sym");
  meta_.real_zero = boolean("real_zero");
  meta_.grid = m.count("grid") ? m["grid"] : "";
  if (report_["settings"].contains("grid")) {
    const auto& g = report_["settings"]["grid"];
    if (json_get_or<int>(g, "bits", report.string(), meta_.bits) != meta_.bits ||
        json_get_or<int64_t>(g, "group", report.string(), meta_.group_size) != meta_.group_size)
      fail("{}: bits / group size disagree with {}'s metadata", report.string(), sp);
  }

  // Tensors: exactly <linear>.{codes,scale,zero,g_idx,perm} for linears of the architecture.
  std::map<std::string, std::set<std::string>> parts;
  for (const TensorInfo* t : state_->tensors()) {
    if (is_lowrank_tensor(t->name)) continue;  // checked by lowrank_linears below
    const size_t dot = t->name.rfind('.');
    const std::string base = dot == std::string::npos ? t->name : t->name.substr(0, dot);
    const std::string suffix = dot == std::string::npos ? "" : t->name.substr(dot + 1);
    static const std::set<std::string> known = {"codes", "scale", "zero", "g_idx", "perm"};
    if (!known.count(suffix) || !std::binary_search(expect.begin(), expect.end(), base + ".weight"))
      fail(
          "{}: tensor '{}' is not part of the integer state this loaq version can export; refusing",
          state_->path_of(t->name), t->name);
    parts[base].insert(suffix);
  }
  for (const auto& [base, s] : parts) {
    if (s.size() != 5)
      fail("{}: linear '{}' lacks part of its state (codes, scale, zero, g_idx, perm)", sp, base);
    linears_.push_back(base);
  }
  lowrank_ = ::loaq::lowrank_linears(*state_);
  for (const auto& base : lowrank_)
    if (!std::binary_search(expect.begin(), expect.end(), base + ".weight"))
      fail("{}: a low-rank branch for '{}', which is not a linear of a {} model", sp, base,
           config_.architecture);
}

LowRankBranch QuantDir::load_lowrank(const std::string& name) const {
  if (!state_) fail("{}: no quant_state.safetensors", dir_);
  if (!weights_->has(name + ".weight") || weights_->info(name + ".weight").shape.size() != 2)
    fail("{}: no 2-D weight '{}.weight'", model_->path(), name);
  const auto& shape = weights_->info(name + ".weight").shape;
  return read_lowrank_branch(*state_, name, shape[0], shape[1]);
}

GgufFit QuantDir::gguf_fit() const {
  const auto& s = report_["settings"];
  if (!s.contains("grid") || !s["grid"].contains("gguf_fit")) return GgufFit::kUnweighted;
  return parse_gguf_fit(s["grid"]["gguf_fit"].get<std::string>());  // checked by check_report
}

LinearState QuantDir::load_linear(const std::string& name) const {
  if (!state_) fail("{}: no quant_state.safetensors", dir_);
  const SafetensorsSet& s = *state_;
  // The stored weight, checked against the state below; none when the directory keeps the linear
  // only as its state (config.json loaq.weights_in_quant_state): the state is the weight.
  const TensorInfo* w = model_->find(name + ".weight");
  if (!w && !weights_->in_state(name + ".weight"))
    fail("{}: no weight '{}.weight'", model_->path(), name);
  const std::vector<int64_t> shape = w ? w->shape : linear_state_shape(s, name);
  if (shape.size() != 2) fail("{}: no 2-D weight '{}.weight'", model_->path(), name);
  LinearState r;
  r.name = name;
  r.out = shape[0];
  r.in = shape[1];
  // --grid gguf:TYPE: a linear solved on the grid of its block type in the mixture (the run's
  // metadata holds the base type's) has that type's group size and bits; which one the run used
  // shows in the shape of its scales.
  int64_t group_size = meta_.group_size;
  int bits = meta_.bits;
  if (report_.contains("settings") && report_["settings"].contains("grid") &&
      report_["settings"]["grid"].contains("gguf_file_type")) {
    const GridConfig g =
        gguf_grid_for_linear(report_["settings"]["grid"]["gguf_file_type"].get<std::string>(), name,
                             config_, gguf_fit());
    const TensorInfo* st = s.find(name + ".scale");
    if (st && st->shape.size() == 2 && g.group > 0 && st->shape[1] * g.group == r.in) {
      group_size = g.group;
      bits = std::max(bits, g.bits);
    }
  }
  r.groups = group_size < 0 ? 1 : (r.in + group_size - 1) / group_size;
  const TensorInfo* ct = s.find(name + ".codes");
  if (!ct) fail("{}: missing tensor '{}.codes'", s.path(), name);
  const std::string& codes_file = s.file_of(*ct).path();
  const bool is_signed = ct->dtype == DType::I8;
  if (!is_signed && ct->dtype != DType::U8)
    fail("{}: tensor '{}.codes' has dtype {}, expected U8 or I8", codes_file, name,
         dtype_name(ct->dtype));
  s.need(name + ".codes", ct->dtype, {r.out, r.in});
  const Tensor scale = s.read_f32(s.need(name + ".scale", DType::F32, {r.out, r.groups}));
  const Tensor zero = s.read_f32(s.need(name + ".zero", DType::F32, {r.out, r.groups}));
  r.g_idx = raw_values<int32_t>(s, s.need(name + ".g_idx", DType::I32, {r.in}));
  const auto perm = raw_values<int32_t>(s, s.need(name + ".perm", DType::I32, {r.in}));
  for (int64_t c = 0; c < r.in; ++c)
    if (r.g_idx[size_t(c)] < 0 || r.g_idx[size_t(c)] >= r.groups)
      fail("{}: {}.g_idx[{}] = {} is outside [0, {})", s.path_of(name + ".g_idx"), name, c,
           r.g_idx[size_t(c)], r.groups);
  std::vector<char> seen(size_t(r.in), 0);
  for (int32_t p : perm) {
    if (p < 0 || p >= r.in || seen[size_t(p)])
      fail("{}: {}.perm is not a permutation of 0..{}", s.path_of(name + ".perm"), name, r.in - 1);
    seen[size_t(p)] = 1;
  }

  const int64_t lo = is_signed ? -(int64_t(1) << (bits - 1)) : 0,
                hi = lo + (int64_t(1) << bits) - 1;
  const auto cb = s.bytes(*ct);
  const Tensor wq = w ? model_->read_f32(*w) : Tensor();
  r.codes.resize(size_t(r.out * r.in));
  r.scale = scale.data;
  r.zero = zero.data;
  for (int64_t o = 0; o < r.out; ++o)
    for (int64_t c = 0; c < r.in; ++c) {
      const size_t i = size_t(o * r.in + c);
      const int64_t code = is_signed ? int64_t(std::to_integer<int8_t>(cb[i]))
                                     : int64_t(std::to_integer<uint8_t>(cb[i]));
      if (code < lo || code > hi)
        fail("{}: {}.codes[{}, {}] = {} is outside the {}-bit range [{}, {}]", codes_file, name, o,
             c, code, bits, lo, hi);
      const size_t gi = size_t(o * r.groups + r.g_idx[size_t(c)]);
      // The engine's dequantization (core/dequantize.h): scale · (code − zero) in float32.
      const float deq = dequantize(float(code), scale.data[gi], zero.data[gi]);
      if (w && !(deq == wq.data[i]))
        fail(
            "{}: weight {}[{}, {}] = {} is not scale·(code − zero) = {} from {}; the directory "
            "holds something the "
            "integer state does not describe, refusing to export it",
            model_->file_of(name + ".weight").path(), name, o, c, wq.data[i], deq, codes_file);
      r.codes[i] = uint32_t(code - lo);
    }
  if (is_signed)
    for (float& z : r.zero) z += float(int64_t(1) << (bits - 1));
  return r;
}

}  // namespace loaq
