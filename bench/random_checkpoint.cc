#include "random_checkpoint.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numbers>

#include "core/error.h"
#include "core/memory.h"
#include "core/tensor.h"
#include "io/staged_dir.h"
#include "io/atomic_file.h"

namespace loaq::bench {

namespace fs = std::filesystem;

namespace {

uint64_t mix64(uint64_t x) {  // splitmix64's finalizer
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t name_key(uint64_t seed, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char ch : name) h = (h ^ ch) * 0x100000001b3ull;
  return mix64(mix64(h) ^ mix64(seed + 0x9e3779b97f4a7c15ull));
}

uint64_t tensor_bytes(const TensorSpec& s) {
  return uint64_t(shape_numel(s.shape)) * dtype_size(s.dtype);
}

// Elements per piece appended to a shard (even, so that Box-Muller pairs never straddle pieces).
constexpr uint64_t kPiece = uint64_t(1) << 22;
constexpr uint64_t kBlock = uint64_t(1) << 14;  // elements per parallel task

}  // namespace

std::vector<HfTensor> hf_tensors(const ModelConfig& c, DType dt) {
  std::vector<HfTensor> v;
  auto add = [&](std::string name, std::vector<int64_t> shape, Init init) {
    v.push_back({{std::move(name), dt, std::move(shape)}, init});
  };
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  add("model.embed_tokens.weight", {c.vocab_size, H}, Init::kNormal);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto linear = [&](const std::string& n, int64_t out, int64_t in, bool bias) {
      add(p + n + ".weight", {out, in}, Init::kNormal);
      if (bias) add(p + n + ".bias", {out}, Init::kZeros);
    };
    linear("self_attn.q_proj", c.q_dim(), H, c.qkv_bias);
    linear("self_attn.k_proj", c.kv_dim(), H, c.qkv_bias);
    linear("self_attn.v_proj", c.kv_dim(), H, c.qkv_bias);
    linear("self_attn.o_proj", H, c.q_dim(), c.o_bias);
    if (c.qk_norm) {
      add(p + "self_attn.q_norm.weight", {c.head_dim}, Init::kOnes);
      add(p + "self_attn.k_norm.weight", {c.head_dim}, Init::kOnes);
    }
    linear("mlp.gate_proj", I, H, c.mlp_bias);
    linear("mlp.up_proj", I, H, c.mlp_bias);
    linear("mlp.down_proj", H, I, c.mlp_bias);
    add(p + "input_layernorm.weight", {H}, Init::kOnes);
    add(p + "post_attention_layernorm.weight", {H}, Init::kOnes);
  }
  add("model.norm.weight", {H}, Init::kOnes);
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, H}, Init::kNormal);
  return v;
}

std::vector<std::vector<size_t>> plan_shards(const std::vector<HfTensor>& tensors,
                                             uint64_t max_bytes) {
  if (max_bytes == 0) fail("--shard-size must be positive");
  std::vector<std::vector<size_t>> shards;
  std::vector<size_t> cur;
  uint64_t cur_bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t n = tensor_bytes(tensors[i].spec);
    if (n > max_bytes) {
      shards.push_back({i});
      continue;
    }
    if (cur_bytes + n > max_bytes) {
      shards.push_back(std::move(cur));
      cur.clear();
      cur_bytes = 0;
    }
    cur.push_back(i);
    cur_bytes += n;
  }
  if (!cur.empty() || shards.empty()) shards.push_back(std::move(cur));
  return shards;
}

void random_values(uint64_t seed, const std::string& name, Init init, uint64_t first,
                   std::span<float> out) {
  if (init != Init::kNormal) {
    std::fill(out.begin(), out.end(), init == Init::kOnes ? 1.0f : 0.0f);
    return;
  }
  const uint64_t key = name_key(seed, name);
  constexpr float kStd = 0.02f, kTwoPi = float(2 * std::numbers::pi);
  constexpr float kInv24 = 1.0f / float(1 << 24);
  for (size_t i = 0; i < out.size();) {
    const uint64_t e = first + i, pair = e / 2;
    // Box-Muller on one 64-bit hash of (key, pair): u1 in (0, 1], u2 in [0, 1).
    const uint64_t x = mix64(key + pair * 0x9e3779b97f4a7c15ull);
    const float u1 = float((x >> 40) + 1) * kInv24, u2 = float(x & 0xffffff) * kInv24;
    const float r = kStd * std::sqrt(-2.0f * std::log(u1));
    const float a = kTwoPi * u2;
    if (e % 2 == 0) {
      out[i++] = r * std::cos(a);
      if (i < out.size()) out[i++] = r * std::sin(a);
    } else {
      out[i++] = r * std::sin(a);
    }
  }
}

nlohmann::ordered_json checkpoint_config(const RandomCheckpointOptions& o) {
  auto j = o.config;
  for (const auto& [k, v] : o.set) {
    if (k.empty()) fail("--set: empty key");
    j[k] = v;
  }
  if (o.layers < 0) fail("--layers must be positive (got {})", o.layers);
  if (o.layers > 0) j["num_hidden_layers"] = o.layers;
  if (o.dtype == DType::BF16)
    j["torch_dtype"] = "bfloat16";
  else if (o.dtype == DType::F16)
    j["torch_dtype"] = "float16";
  else if (o.dtype == DType::F32)
    j["torch_dtype"] = "float32";
  else
    fail("--dtype: {} is not a weight dtype (bf16, f16, f32)", dtype_name(o.dtype));
  parse_model_config(nlohmann::json::parse(j.dump()), "config.json (preset with --set/--layers)");
  return j;
}

RandomCheckpointResult write_random_checkpoint(const RandomCheckpointOptions& o) {
  const auto cj = checkpoint_config(o);
  RandomCheckpointResult res;
  res.config = parse_model_config(nlohmann::json::parse(cj.dump()), "config.json");
  if (!o.tokenizer_dir.empty() && !fs::exists(fs::path(o.tokenizer_dir) / "tokenizer.json"))
    fail("tokenizer folder '{}': no tokenizer.json", o.tokenizer_dir);
  const auto tensors = hf_tensors(res.config, o.dtype);
  const auto shards = plan_shards(tensors, o.shard_bytes);

  // --force replaces whatever is at --out (a generated checkpoint is not worth a kind of its own).
  if (o.force && fs::exists(o.out)) {
    std::error_code ec;
    fs::remove_all(o.out, ec);
    if (ec) fail("cannot remove '{}': {}", o.out, ec.message());
  }
  StagedDir dir(o.out, false, OutputKind::kHfExport, {});
  write_file_atomic(dir.file("config.json"), cj.dump(2) + "\n");
  if (!o.tokenizer_dir.empty())
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                          "generation_config.json", "tokenizer.model"}) {
      const auto src = fs::path(o.tokenizer_dir) / f;
      if (!fs::exists(src)) continue;
      std::error_code ec;
      fs::copy_file(src, dir.path() / f, ec);
      if (ec)
        fail("cannot copy '{}' into '{}': {}", src.string(), dir.path().string(), ec.message());
      res.files.push_back(f);
    }

  const size_t esize = dtype_size(o.dtype);
  std::vector<float> vals(kPiece);
  std::vector<std::byte> bytes(kPiece * esize);
  nlohmann::json weight_map = nlohmann::json::object();  // sorted, as transformers writes it
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string fname = shards.size() == 1 ? "model.safetensors"
                                                 : fmt::format("model-{:05d}-of-{:05d}.safetensors",
                                                               s + 1, shards.size());
    std::vector<TensorSpec> specs;
    std::map<std::string, const HfTensor*> by_name;
    for (size_t i : shards[s]) {
      specs.push_back(tensors[i].spec);
      by_name[tensors[i].spec.name] = &tensors[i];
      weight_map[tensors[i].spec.name] = fname;
    }
    SafetensorsWriter w(dir.file(fname), std::move(specs), {{"format", "pt"}});
    for (const auto& info : w.layout()) {
      const HfTensor& t = *by_name.at(info.name);
      const uint64_t numel = uint64_t(shape_numel(info.shape));
      for (uint64_t first = 0; first < numel; first += kPiece) {
        const uint64_t n = std::min(kPiece, numel - first);
        const int64_t blocks = int64_t((n + kBlock - 1) / kBlock);
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < blocks; ++b) {
          const uint64_t lo = uint64_t(b) * kBlock, hi = std::min(n, lo + kBlock);
          std::span<float> v(vals.data() + lo, hi - lo);
          random_values(o.seed, info.name, t.init, first + lo, v);
          std::byte* dst = bytes.data() + lo * esize;
          for (uint64_t i = 0; i < hi - lo; ++i) {
            if (o.dtype == DType::F32) {
              std::memcpy(dst + 4 * i, &v[i], 4);
            } else {
              const uint16_t h = o.dtype == DType::BF16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
              std::memcpy(dst + 2 * i, &h, 2);
            }
          }
        }
        w.append(info.name, std::span<const std::byte>(bytes.data(), n * esize));
      }
    }
    w.commit();
    res.files.push_back(fname);
    res.total_bytes += w.data_size();
    if (o.progress)
      fmt::print(stderr, "{}: {} tensors, {} ({:.1f} s so far)\n", fname, shards[s].size(),
                 format_bytes(w.data_size()),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  for (const auto& t : tensors) res.params += uint64_t(shape_numel(t.spec.shape));
  if (shards.size() > 1) {
    nlohmann::json idx = {{"metadata", {{"total_size", res.total_bytes}}},
                          {"weight_map", weight_map}};
    write_file_atomic(dir.file("model.safetensors.index.json"), idx.dump(2) + "\n");
    res.files.push_back("model.safetensors.index.json");
  }
  dir.commit();
  return res;
}

}  // namespace loaq::bench
