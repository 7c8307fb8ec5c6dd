#include "export/inspect.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "core/error.h"
#include "export/quant_dir.h"
#include "io/json_file.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "io/safetensors_set.h"
#include "text/tokenizer.h"

namespace loaq {

namespace fs = std::filesystem;

namespace {

// Weights beyond sqrt(FLT_MAX) ≈ 1.84e19: a product with an activation of magnitude ≥ 1, or the
// square RMSNorm takes of the residual stream they feed, overflows fp32 (real checkpoints stay
// below 1e4).
constexpr double kMaxSafeWeight = 1.8446742974197924e19;  // sqrt(3.4028235e38)

std::optional<int64_t> first_overflow_risk(const Tensor& w) {
  for (size_t i = 0; i < w.data.size(); ++i)
    if (std::fabs(double(w.data[i])) > kMaxSafeWeight) return int64_t(i);
  return std::nullopt;
}

struct Ctx {
  InspectResult r;
  // Once each: a file that does not open is also a set that does not (io/safetensors_set.h).
  void problem(std::string s) {
    if (std::find(r.problems.begin(), r.problems.end(), s) == r.problems.end())
      r.problems.push_back(std::move(s));
  }
};

// Expected [out, in] of a linear from its name, or nullopt for a name that is not a linear.
std::optional<std::pair<int64_t, int64_t>> linear_dims(const std::string& base,
                                                       const ModelConfig& c) {
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  if (base.ends_with("self_attn.q_proj")) return std::pair{c.q_dim(), H};
  if (base.ends_with("self_attn.k_proj") || base.ends_with("self_attn.v_proj"))
    return std::pair{c.kv_dim(), H};
  if (base.ends_with("self_attn.o_proj")) return std::pair{H, c.q_dim()};
  if (base.ends_with("mlp.gate_proj") || base.ends_with("mlp.up_proj")) return std::pair{I, H};
  if (base.ends_with("mlp.down_proj")) return std::pair{H, I};
  return std::nullopt;
}

std::optional<std::vector<int64_t>> expected_shape(const std::string& name, const ModelConfig& c) {
  if (name == "model.embed_tokens.weight" || name == "lm_head.weight")
    return std::vector{c.vocab_size, c.hidden_size};
  if (name.ends_with("layernorm.weight") || name == "model.norm.weight")
    return std::vector{c.hidden_size};
  if (name.ends_with("q_norm.weight") || name.ends_with("k_norm.weight"))
    return std::vector{c.head_dim};
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return std::nullopt;
  const auto d = linear_dims(name.substr(0, dot), c);
  if (!d) return std::nullopt;
  if (name.ends_with(".weight")) return std::vector{d->first, d->second};
  if (name.ends_with(".bias")) return std::vector{d->first};
  return std::nullopt;
}

std::string human_bytes(uint64_t b) {
  if (b >= 1000'000'000) return fmt::format("{:.2f} GB", double(b) / 1e9);
  if (b >= 1000'000) return fmt::format("{:.2f} MB", double(b) / 1e6);
  if (b >= 1000) return fmt::format("{:.1f} kB", double(b) / 1e3);
  return fmt::format("{} B", b);
}

std::string human_count(int64_t n) {
  if (n >= 1000'000'000) return fmt::format("{:.2f}B", double(n) / 1e9);
  if (n >= 1000'000) return fmt::format("{:.2f}M", double(n) / 1e6);
  if (n >= 1000) return fmt::format("{:.1f}K", double(n) / 1e3);
  return std::to_string(n);
}

// The GPTQ tensors of one linear: shapes against each other, bits, group size and the config.
void check_gptq_linear(
    Ctx& cx, const std::map<std::string, std::pair<const SafetensorsFile*, const TensorInfo*>>& all,
    const std::string& base, int bits, int64_t group_size, const ModelConfig* cfg, bool read_data) {
  auto get = [&](const char* suf) -> const std::pair<const SafetensorsFile*, const TensorInfo*>* {
    auto it = all.find(base + suf);
    if (it == all.end()) {
      cx.problem(fmt::format("{}: GPTQ linear lacks tensor '{}{}'", base, base, suf));
      return nullptr;
    }
    return &it->second;
  };
  const auto *qw = get(".qweight"), *qz = get(".qzeros"), *sc = get(".scales"), *gi = get(".g_idx");
  if (!qw || !qz || !sc || !gi) return;
  const auto& sw = qw->second->shape;
  if (qw->second->dtype != DType::I32 || sw.size() != 2 || sw[0] % bits != 0) {
    cx.problem(fmt::format("{}.qweight: expected I32 [in/32·{}, out], found {} {}", base, bits,
                           dtype_name(qw->second->dtype), shape_str(sw)));
    return;
  }
  const int64_t in = sw[0] / bits * 32, out = sw[1];
  const int64_t G = group_size < 0 ? 1 : (in + group_size - 1) / group_size;
  auto expect = [&](const std::pair<const SafetensorsFile*, const TensorInfo*>* t, const char* suf,
                    std::vector<DType> dts, std::vector<int64_t> shape) {
    if (std::find(dts.begin(), dts.end(), t->second->dtype) == dts.end() ||
        t->second->shape != shape)
      cx.problem(fmt::format("{}{}: expected {} {}, found {} {}", base, suf, dtype_name(dts[0]),
                             shape_str(shape), dtype_name(t->second->dtype),
                             shape_str(t->second->shape)));
  };
  expect(qz, ".qzeros", {DType::I32}, {G, out / 32 * bits});
  expect(sc, ".scales", {DType::F16, DType::BF16, DType::F32}, {G, out});
  expect(gi, ".g_idx", {DType::I32}, {in});
  if (cfg) {
    if (auto d = linear_dims(base, *cfg); d && (d->first != out || d->second != in))
      cx.problem(fmt::format("{}: packed as {}×{} (out×in) but config.json implies {}×{}", base,
                             out, in, d->first, d->second));
  }
  if (read_data && gi->second->dtype == DType::I32 &&
      gi->second->shape == std::vector<int64_t>{in}) {
    const auto b = gi->first->bytes(*gi->second);
    for (int64_t c = 0; c < in; ++c) {
      int32_t g;
      std::memcpy(&g, b.data() + 4 * c, 4);
      if (g < 0 || g >= G) {
        cx.problem(fmt::format("{}.g_idx[{}] = {} is outside [0, {})", base, c, g, G));
        break;
      }
    }
  }
}

}  // namespace

InspectResult inspect_checkpoint(const std::string& dir, const InspectOptions& opt) {
  const fs::path d(dir);
  if (!fs::is_directory(d)) fail("'{}' is not a directory", dir);
  Ctx cx;
  auto& info = cx.r.info;
  info["path"] = dir;

  // Files and disk size.
  uint64_t disk = 0;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(d)) {
    if (!e.is_regular_file()) continue;
    files.push_back(e.path());
    disk += e.file_size();
  }
  std::sort(files.begin(), files.end());
  info["disk_bytes"] = disk;
  nlohmann::ordered_json file_status = nlohmann::ordered_json::object();
  auto file_problem = [&](const fs::path& f, const std::string& what) {
    file_status[fs::relative(f, d).string()] = "error: " + what;
    cx.problem(what);
  };

  // JSON files parse.
  std::map<std::string, nlohmann::json> json;
  for (const auto& f : files) {
    if (f.extension() != ".json") continue;
    try {
      json[fs::relative(f, d).string()] = read_json_file(f.string());
      file_status[fs::relative(f, d).string()] = "ok";
    } catch (const Error& e) {
      file_problem(f, e.what());
    }
  }

  // config.json: the architecture.
  std::optional<ModelConfig> cfg;
  nlohmann::json qcfg;
  if (!json.count("config.json")) {
    cx.problem(fmt::format("{}: no readable config.json", dir));
  } else {
    const auto& cj = json["config.json"];
    try {
      cfg = parse_model_config(cj, (d / "config.json").string());
      info["architecture"] = {{"class", cfg->architecture},
                              {"layers", cfg->num_layers},
                              {"hidden_size", cfg->hidden_size},
                              {"intermediate_size", cfg->intermediate_size},
                              {"heads", cfg->num_heads},
                              {"kv_heads", cfg->num_kv_heads},
                              {"head_dim", cfg->head_dim},
                              {"vocab_size", cfg->vocab_size},
                              {"tied_embeddings", cfg->tie_word_embeddings},
                              {"torch_dtype", cfg->torch_dtype}};
    } catch (const Error& e) {
      cx.problem(e.what());
      info["architecture"] = {
          {"class", cj.contains("architectures") ? cj["architectures"].dump() : "?"},
          {"model_type", cj.value("model_type", std::string("?"))}};
    }
    if (cj.contains("quantization_config")) qcfg = cj["quantization_config"];
  }
  if (qcfg.is_null() && json.count("quantize_config.json")) qcfg = json["quantize_config.json"];

  // Safetensors files: every header validated on opening.
  std::vector<std::unique_ptr<SafetensorsFile>> st;
  std::map<std::string, const SafetensorsFile*> st_by_name;
  for (const auto& f : files) {
    if (f.extension() != ".safetensors") continue;
    try {
      st.push_back(std::make_unique<SafetensorsFile>(f.string()));
      st_by_name[fs::relative(f, d).string()] = st.back().get();
      file_status[fs::relative(f, d).string()] = "ok";
    } catch (const Error& e) {
      file_problem(f, e.what());
    }
  }

  // The model's weights: model.safetensors, or the shards model.safetensors.index.json lists,
  // checked against the index (io/safetensors_set.h).
  std::optional<SafetensorsSet> weights;
  if (SafetensorsSet::present(dir, "model")) {
    try {
      weights.emplace(dir, "model");
    } catch (const Error& e) {
      cx.problem(e.what());
    }
  } else {
    cx.problem(
        fmt::format("{}: no readable model.safetensors or model.safetensors.index.json", dir));
  }
  if (weights && weights->sharded() && json.count("model.safetensors.index.json")) {
    const auto& idx = json["model.safetensors.index.json"];
    if (idx.contains("metadata") && idx["metadata"].contains("total_size")) {
      uint64_t total = 0;
      for (const TensorInfo* t : weights->tensors()) total += t->end - t->begin;
      if (!idx["metadata"]["total_size"].is_number_unsigned() ||
          idx["metadata"]["total_size"].get<uint64_t>() != total)
        cx.problem(
            fmt::format("{}: metadata.total_size {} differs from the shards' {} bytes of tensors",
                        weights->path(), idx["metadata"]["total_size"].dump(), total));
    }
  }

  // Data pass: every tensor of every file (floats must be finite).
  if (opt.read_data)
    for (const auto& [fname, f] : st_by_name)
      for (const auto& t : f->tensors()) {
        if (!is_float(t.dtype)) continue;
        try {
          const Tensor w = f->read_f32(t);
          if (const auto big = first_overflow_risk(w))
            cx.problem(fmt::format(
                "{}: tensor '{}' holds {:g} at flat index {}: |w| > {:.3g} = sqrt(FLT_MAX), so its "
                "products with activations and their squares in RMSNorm overflow fp32",
                f->path(), t.name, w.data[*big], *big, kMaxSafeWeight));
        } catch (const Error& e) {
          file_status[fname] = std::string("error: ") + e.what();
          cx.problem(e.what());
        }
      }

  // Kind, quantization.
  const bool gptq = qcfg.is_object() && qcfg.value("quant_method", std::string()) == "gptq";
  bool loaq_out = false;
  if (json.count("report.json") && weights) try {
      const auto& md = weights->metadata();
      loaq_out = md.count("producer") && md.at("producer") == "loaq";
    } catch (const Error& e) {
      cx.problem(e.what());
    }
  const bool in_state = loaq_out && cfg && cfg->loaq.weights_in_state;
  info["kind"] = gptq       ? "GPTQ checkpoint"
                 : in_state ? "loaq quantization output (quantized linears as integer state, "
                              "dequantized at load)"
                 : loaq_out
                     ? "loaq quantization output (fake-quantized F32 weights + integer state)"
                 : qcfg.is_object()
                     ? "quantized checkpoint (" + qcfg.value("quant_method", std::string("?")) + ")"
                     : "Hugging Face checkpoint";
  int gbits = 0;
  int64_t ggroup = -1;
  if (qcfg.is_object()) {
    info["quantization"] = qcfg;
    if (gptq) {
      gbits = qcfg.value("bits", 0);
      ggroup = qcfg.value("group_size", int64_t(-1));
      if (gbits != 2 && gbits != 3 && gbits != 4 && gbits != 8) {
        cx.problem(fmt::format("quantization_config: bits {} is not one of 2, 3, 4, 8", gbits));
        gbits = 0;
      }
      if (qcfg.contains("checkpoint_format") && qcfg["checkpoint_format"] != "gptq" &&
          qcfg["checkpoint_format"] != "gptq_v2")
        cx.problem(fmt::format("quantization_config: checkpoint_format {} is not gptq",
                               qcfg["checkpoint_format"].dump()));
    }
  }
  std::map<std::string, std::vector<int64_t>> state_weights;  // linears kept as integer state
  if (loaq_out) {
    try {
      const QuantDir q(dir);
      for (const auto& n : q.linears())
        if (q.weights().in_state(n + ".weight"))
          state_weights[n + ".weight"] = q.weights().info(n + ".weight").shape;
      nlohmann::ordered_json lq = {
          {"method", q.report()["settings"].value("method", std::string("?"))},
          {"linears", q.linears().size()}};
      if (q.has_quant_state())
        lq["grid"] = {{"bits", q.meta().bits},
                      {"group_size", q.meta().group_size},
                      {"sym", q.meta().sym},
                      {"real_zero", q.meta().real_zero},
                      {"describe", q.meta().grid}};
      if (q.has_lowrank()) lq["lowrank_linears"] = q.lowrank_linears().size();
      if (opt.read_data) {
        for (const auto& n : q.linears()) (void)q.load_linear(n);
        for (const auto& n : q.lowrank_linears()) (void)q.load_lowrank(n);
      }
      if (q.report().contains("ppl")) lq["ppl"] = q.report()["ppl"];
      info["quantization"] = lq;
    } catch (const Error& e) {
      cx.problem(e.what());
    }
  }

  // Tensors by dtype, parameter count, shapes.
  std::map<std::string, std::pair<const SafetensorsFile*, const TensorInfo*>> all;
  if (weights)
    for (const TensorInfo* t : weights->tensors()) all[t->name] = {&weights->file_of(*t), t};
  nlohmann::ordered_json by_dtype = nlohmann::ordered_json::object();
  int64_t params = 0, quantized = 0;
  std::set<std::string> gptq_linears;
  for (const auto& [name, ft] : all) {
    const TensorInfo& t = *ft.second;
    auto& e = by_dtype[std::string(dtype_name(t.dtype))];
    if (e.is_null()) e = {{"tensors", 0}, {"elements", 0}, {"bytes", 0}};
    e["tensors"] = e["tensors"].get<int64_t>() + 1;
    e["elements"] = e["elements"].get<int64_t>() + shape_numel(t.shape);
    e["bytes"] = e["bytes"].get<uint64_t>() + (t.end - t.begin);
    if (gptq && name.ends_with(".qweight")) {
      gptq_linears.insert(name.substr(0, name.size() - 8));
      if (gbits && t.shape.size() == 2) {
        const int64_t n = t.shape[0] / gbits * 32 * t.shape[1];
        params += n;
        quantized += n;
      }
    } else if (gptq && (name.ends_with(".qzeros") || name.ends_with(".scales") ||
                        name.ends_with(".g_idx"))) {
      // quantization metadata, not parameters
    } else {
      params += shape_numel(t.shape);
      if (cfg)
        if (auto s = expected_shape(name, *cfg)) {
          if (*s != t.shape)
            cx.problem(fmt::format("{}: tensor '{}' has shape {} but config.json implies {}",
                                   ft.first->path(), name, shape_str(t.shape), shape_str(*s)));
          if (!is_float(t.dtype))
            cx.problem(
                fmt::format("{}: tensor '{}' has dtype {} where a floating-point weight is "
                            "expected",
                            ft.first->path(), name, dtype_name(t.dtype)));
        }
    }
  }
  info["tensors_by_dtype"] = by_dtype;
  for (const auto& [name, shape] : state_weights) {
    params += shape_numel(shape);
    quantized += shape_numel(shape);
  }
  info["parameters"] = params;
  if (gptq || !state_weights.empty()) info["quantized_parameters"] = quantized;
  if (gptq && gbits)
    for (const auto& b : gptq_linears)
      check_gptq_linear(cx, all, b, gbits, ggroup, cfg ? &*cfg : nullptr, opt.read_data);
  if (cfg && weights) {  // (unreadable weights are already a problem)
    for (const auto& n : known_tensor_names(*cfg)) {
      const std::string base = n.ends_with(".weight") ? n.substr(0, n.size() - 7) : "";
      if (all.count(n) || (gptq && gptq_linears.count(base)) || state_weights.count(n)) continue;
      cx.problem(fmt::format("{}: missing tensor '{}'", dir, n));
    }
  }

  // Tokenizer.
  if (fs::exists(d / "tokenizer.json") || fs::exists(d / "tokenizer.model")) {
    try {
      const auto tok = load_tokenizer(dir);
      info["tokenizer"] = {{"source", fs::path(tok->source()).filename().string()},
                           {"vocab_size", tok->vocab_size()},
                           {"add_bos", tok->add_bos}};
      file_status[fs::path(tok->source()).filename().string()] = "ok (tokenizer loaded)";
      if (cfg) check_tokenizer_fits(*tok, *cfg, dir);
    } catch (const Error& e) {
      cx.problem(e.what());
    }
  } else {
    info["tokenizer"] = nullptr;
    // `eval` and `quantize` cannot run such a directory; --headers-only looks at weights only.
    if (opt.read_data)
      cx.problem(fmt::format("{}: missing tokenizer: no tokenizer.json or tokenizer.model", dir));
  }
  for (const auto& f : files) {
    const std::string rel = fs::relative(f, d).string();
    if (!file_status.contains(rel)) file_status[rel] = "not checked";
  }
  info["files"] = file_status;
  info["problems"] = cx.r.problems;
  return cx.r;
}

std::string format_inspect(const InspectResult& r) {
  const auto& i = r.info;
  std::string s =
      fmt::format("{}\n  kind: {}\n", i["path"].get<std::string>(), i["kind"].get<std::string>());
  if (i.contains("architecture")) {
    const auto& a = i["architecture"];
    if (a.contains("layers"))
      s += fmt::format(
          "  architecture: {}, {} layers, hidden {}, intermediate {}, {} heads / {} kv heads of "
          "{}, "
          "vocab {}{}, torch_dtype {}\n",
          a["class"].get<std::string>(), a["layers"].get<int64_t>(),
          a["hidden_size"].get<int64_t>(), a["intermediate_size"].get<int64_t>(),
          a["heads"].get<int64_t>(), a["kv_heads"].get<int64_t>(), a["head_dim"].get<int64_t>(),
          a["vocab_size"].get<int64_t>(), a["tied_embeddings"].get<bool>() ? ", tied head" : "",
          a["torch_dtype"].get<std::string>());
    else
      s += fmt::format("  architecture: {} (not supported by loaq)\n", a.dump());
  }
  s += fmt::format("  parameters: {} ({})", human_count(i["parameters"].get<int64_t>()),
                   i["parameters"].get<int64_t>());
  if (i.contains("quantized_parameters"))
    s += fmt::format(", of which {} {}", human_count(i["quantized_parameters"].get<int64_t>()),
                     i["kind"] == "GPTQ checkpoint" ? "packed" : "as integer state");
  s += "\n  tensors by dtype:\n";
  for (auto it = i["tensors_by_dtype"].begin(); it != i["tensors_by_dtype"].end(); ++it)
    s += fmt::format("    {:<5} {:>6} tensors {:>14} elements {:>12}\n", it.key(),
                     it.value()["tensors"].get<int64_t>(), it.value()["elements"].get<int64_t>(),
                     human_bytes(it.value()["bytes"].get<uint64_t>()));
  if (i.contains("quantization"))
    s += fmt::format("  quantization: {}\n", i["quantization"].dump());
  else
    s += "  quantization: none\n";
  if (i.contains("tokenizer") && !i["tokenizer"].is_null())
    s += fmt::format("  tokenizer: {} ({} tokens, BOS {})\n",
                     i["tokenizer"]["source"].get<std::string>(),
                     i["tokenizer"]["vocab_size"].get<int64_t>(),
                     i["tokenizer"]["add_bos"].get<bool>() ? "added" : "not added");
  s += fmt::format("  disk size: {} ({} bytes)\n  files:\n",
                   human_bytes(i["disk_bytes"].get<uint64_t>()), i["disk_bytes"].get<uint64_t>());
  for (auto it = i["files"].begin(); it != i["files"].end(); ++it)
    s += fmt::format("    {:<40} {}\n", it.key(), it.value().get<std::string>());
  if (r.problems.empty()) {
    s += "  validation: ok\n";
  } else {
    s += fmt::format("  validation: {} problem(s)\n", r.problems.size());
    for (const auto& p : r.problems) s += "    - " + p + "\n";
  }
  return s;
}

}  // namespace loaq
