#include "pipeline/output.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "core/dequantize.h"
#include "core/error.h"
#include "dist/dist.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/lowrank_state.h"
#include "io/safetensors.h"
#include "io/staged_dir.h"
#include "pipeline/resume.h"

namespace loaq {

namespace fs = std::filesystem;

namespace {

// A tensor to write with the bytes it owns.
struct OwnedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<std::byte> bytes;
};

// The source's dtype when every value of `t` is exact in it, F32 otherwise.
DType storage_dtype(const Tensor& t, DType source) {
  if (source == DType::BF16) {
    for (float v : t.data)
      if (bf16_to_f32(f32_to_bf16(v)) != v) return DType::F32;
    return DType::BF16;
  }
  if (source == DType::F16) {
    for (float v : t.data)
      if (f16_to_f32(f32_to_f16(v)) != v) return DType::F32;
    return DType::F16;
  }
  return DType::F32;
}

OwnedTensor encode(const std::string& name, const Tensor& t, DType source) {
  OwnedTensor o{name, storage_dtype(t, source), t.shape, {}};
  o.bytes.resize(size_t(t.numel()) * dtype_size(o.dtype));
  if (o.dtype == DType::F32) {
    std::memcpy(o.bytes.data(), t.data.data(), o.bytes.size());
  } else {
    auto* p = reinterpret_cast<uint16_t*>(o.bytes.data());
    for (size_t i = 0; i < t.data.size(); ++i)
      p[i] = o.dtype == DType::BF16 ? f32_to_bf16(t.data[i]) : f32_to_f16(t.data[i]);
  }
  return o;
}

void write_owned(const std::string& path, const std::vector<OwnedTensor>& ts,
                 const std::map<std::string, std::string>& meta) {
  std::vector<TensorToWrite> w;
  for (const auto& t : ts) w.push_back({t.name, t.dtype, t.shape, std::span(t.bytes)});
  write_safetensors(path, std::move(w), meta);
}

const std::map<std::string, std::string> kModelMeta = {{"format", "pt"}, {"producer", "loaq"}};

std::map<std::string, std::string> state_meta(const GridConfig& grid, bool lowrank) {
  std::map<std::string, std::string> m = {{"producer", "loaq"},
                                          {"bits", std::to_string(grid.bits)},
                                          {"group_size", std::to_string(grid.group)},
                                          {"sym", grid.sym ? "true" : "false"},
                                          {"real_zero", grid.zero_in_rounding() ? "true" : "false"},
                                          {"grid", grid.describe()},
                                          {"dequantize", "scale * (code - zero)"}};
  if (lowrank) m[kLowRankMetaKey] = kLowRankMetaValue;
  return m;
}

// Integer codes (U8, or I8 for signed grids), scales, zeros, g_idx and perm of each linear.
void write_quant_state(const std::map<std::string, QuantizedLinear>& linears,
                       const GridConfig& grid, const std::string& path) {
  const bool is_signed = grid.qmin() < 0;
  std::vector<std::vector<uint8_t>> code_bytes;
  code_bytes.reserve(linears.size());
  std::vector<TensorToWrite> t;
  for (const auto& [name, q] : linears) {
    auto& b = code_bytes.emplace_back(q.codes.size());
    for (size_t i = 0; i < q.codes.size(); ++i)
      b[i] = is_signed ? std::bit_cast<uint8_t>(int8_t(q.codes[i])) : uint8_t(q.codes[i]);
    t.push_back({name + ".codes",
                 is_signed ? DType::I8 : DType::U8,
                 {q.scale.shape.at(0), int64_t(q.g_idx.size())},
                 std::as_bytes(std::span(b))});
    t.push_back(f32_entry(name + ".scale", q.scale));
    t.push_back(f32_entry(name + ".zero", q.zero));
    t.push_back({name + ".g_idx",
                 DType::I32,
                 {int64_t(q.g_idx.size())},
                 std::as_bytes(std::span(q.g_idx))});
    t.push_back(
        {name + ".perm", DType::I32, {int64_t(q.perm.size())}, std::as_bytes(std::span(q.perm))});
  }
  // The low-rank branches (io/lowrank_state.h), beside their linears.
  std::map<std::string, LowRankBranch> branches;
  for (const auto& [name, q] : linears)
    if (q.lowrank) branches[name] = *q.lowrank;
  const LowRankStateTensors lt = lowrank_state_tensors(branches);
  t.insert(t.end(), lt.tensors.begin(), lt.tensors.end());
  write_safetensors(path, std::move(t), state_meta(grid, !branches.empty()));
}

// Whether the integer state of a linear, as write_quant_state stores it, dequantizes
// (io/quant_state.h) bit for bit to `w`, the weight the layer hands over: then model.safetensors
// omits the weight and loaders dequantize it at load.
bool state_reproduces(const QuantizedLinear& q, const Tensor& w, bool is_signed) {
  if (w.shape.size() != 2 || q.scale.shape.size() != 2) return false;
  const int64_t out = w.shape[0], in = w.shape[1], groups = q.scale.shape[1];
  if (int64_t(q.codes.size()) != out * in || int64_t(q.g_idx.size()) != in ||
      q.scale.shape[0] != out || q.zero.shape != q.scale.shape)
    return false;
  for (int32_t g : q.g_idx)
    if (g < 0 || g >= groups) return false;
  std::vector<float> row(static_cast<size_t>(in));
  for (int64_t o = 0; o < out; ++o) {
    const int32_t* c = q.codes.data() + o * in;
    for (int64_t i = 0; i < in; ++i)  // the code must survive its storage as U8 / I8
      if (is_signed ? int32_t(int8_t(c[i])) != c[i] : int32_t(uint8_t(c[i])) != c[i]) return false;
    dequantize_row(c, q.scale.data.data() + o * groups, q.zero.data.data() + o * groups,
                   q.g_idx.data(), in, row.data());
    if (std::memcmp(row.data(), w.data.data() + o * in, size_t(in) * sizeof(float)) != 0)
      return false;
  }
  return true;
}

// The tensors of `files` as one safetensors file, or as shards (one per file) with an index,
// named `stem`.safetensors / `stem`-0000k-of-0000N.safetensors.
void write_combined(const std::string& dir, const std::string& stem,
                    const std::vector<std::string>& files, int64_t max_shard_bytes,
                    const std::map<std::string, std::string>& meta) {
  std::vector<std::unique_ptr<SafetensorsFile>> open;
  int64_t total = 0;
  for (const auto& f : files) {
    open.push_back(std::make_unique<SafetensorsFile>(f));
    for (const auto& t : open.back()->tensors()) total += int64_t(t.end - t.begin);
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir))  // an earlier, interrupted assembly
    if (e.path().filename().string().rfind(stem, 0) == 0) fs::remove(e.path(), ec);
  if (total <= max_shard_bytes || files.size() == 1) {
    std::vector<TensorToWrite> w;
    for (const auto& f : open)
      for (const auto& t : f->tensors()) w.push_back({t.name, t.dtype, t.shape, f->bytes(t)});
    write_safetensors((fs::path(dir) / (stem + ".safetensors")).string(), std::move(w), meta);
    return;
  }
  nlohmann::ordered_json map = nlohmann::ordered_json::object();
  const size_t n = files.size();
  for (size_t i = 0; i < n; ++i) {
    const std::string name = fmt::format("{}-{:05d}-of-{:05d}.safetensors", stem, i + 1, n);
    fs::create_hard_link(files[i], fs::path(dir) / name, ec);
    if (ec) fs::copy_file(files[i], fs::path(dir) / name, fs::copy_options::overwrite_existing);
    for (const auto& t : open[i]->tensors()) map[t.name] = name;
  }
  nlohmann::ordered_json sorted = nlohmann::ordered_json::object();
  std::map<std::string, std::string> by_name;
  for (auto it = map.begin(); it != map.end(); ++it) by_name[it.key()] = it.value();
  for (const auto& [k, v] : by_name) sorted[k] = v;
  const nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}},
                                        {"weight_map", sorted}};
  write_file_atomic((fs::path(dir) / (stem + ".safetensors.index.json")).string(),
                    index.dump(2) + "\n");
}

// The stream file of `kind` (hq, hf) after `layers` layers, of this rank on several ranks.
std::string stream_file(const char* kind, int64_t layers, int rank, int ranks) {
  if (ranks == 1) return fmt::format("{}-{:05d}.bin", kind, layers);
  return fmt::format("{}-{:05d}.rank-{}-of-{}.bin", kind, layers, rank, ranks);
}

}  // namespace

QuantOutput::QuantOutput(const Checkpoint& src, const QuantizeConfig& cfg, const OutputOptions& o,
                         const nlohmann::ordered_json& fingerprint)
    : src_(src), cfg_(cfg), o_(o), fingerprint_(fingerprint) {
  if (o.out_dir.empty()) fail("--out is required");
  const fs::path out = fs::absolute(o.out_dir).lexically_normal();
  partial_ = out.string() + ".partial";
  resume_dir_ = partial_ + "/resume";
  // On several ranks, rank 0 opens and checks the output and tells the others where the run
  // starts; every rank writes its own stream slices into the resume folder (a shared file system).
  if (!dist::is_root()) {
    int64_t done = 0;
    dist::broadcast(std::span(&done, 1), 0);
    layers_done_ = done;
    return;
  }
  open_as_root(src, o);
  int64_t done = layers_done_;
  dist::broadcast(std::span(&done, 1), 0);
}

void QuantOutput::open_as_root(const Checkpoint& src, const OutputOptions& o) {
  const fs::path out = fs::absolute(o.out_dir).lexically_normal();
  const std::string state = resume_dir_ + "/state.json";
  std::error_code ec;
  // Staging folders of dead runs of this output (and an earlier output a killed run had moved
  // aside) are cleaned up or put back first (io/staged_dir.h).
  clean_stale_staging(out);
  if (fs::exists(out) && !o.force)
    fail("output directory '{}' exists (use --force to replace it)", o.out_dir);
  if (fs::exists(partial_)) {
    if (o.resume && fs::exists(state)) {
      // checked below, under the lock
    } else if (o.force || o.resume) {
      if (!o.quiet)
        fmt::print(stderr, "loaq: removing the partial output '{}' of an earlier run\n", partial_);
      fs::remove_all(partial_, ec);
      if (ec) fail("cannot remove '{}': {}", partial_, ec.message());
    } else {
      int64_t done = -1;
      if (fs::exists(state)) try {
          done = read_resume_state(state, src.config().num_layers).layers_done;
        } catch (const Error&) {  // a damaged state is still discarded with --force
        }
      fail(
          "'{}' holds the state of an interrupted run{}: continue it with --resume, or discard it "
          "with --force",
          partial_,
          done >= 0 ? fmt::format(" ({} of {} layers done)", done, src.config().num_layers) : "");
    }
  } else if (o.resume) {
    fmt::print(stderr, "loaq: no partial state at '{}': starting fresh\n", partial_);
  }
  fs::create_directories(resume_dir_, ec);
  if (ec) fail("cannot create '{}': {}", resume_dir_, ec.message());
  lock_fd_ = ::open((resume_dir_ + "/lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    fail("'{}' is being written by another loaq run", partial_);
  if (fs::exists(state)) {
    const ResumeState saved = read_resume_state(state, src.config().num_layers);
    const std::string why = fingerprint_mismatch(saved.fingerprint, nlohmann::json(fingerprint_));
    if (!why.empty())
      fail("{}: cannot resume: {}; discard the partial state with --force", state, why);
    layers_done_ = saved.layers_done;
    stream_files_ = saved.streams;
    fmt::print(stderr, "loaq: resuming '{}' after {} of {} layers\n", partial_, layers_done_,
               src.config().num_layers);
  }
}

QuantOutput::~QuantOutput() {
  if (!dist::is_root()) return;
  if (lock_fd_ >= 0) ::close(lock_fd_);
  // A run that failed before finishing a layer leaves nothing to resume.
  std::error_code ec;
  if (!committed_ && layers_done_ == 0) fs::remove_all(partial_, ec);
}

std::string QuantOutput::part(const std::string& what) const {
  return resume_dir_ + "/" + what;
}

std::optional<ResumedRun> QuantOutput::resumed(int64_t windows, int64_t seqlen, bool fp_stream) {
  if (layers_done_ == 0) return std::nullopt;
  ResumedRun r;
  const std::string state = part("state.json");
  if (dist::is_root())
    r.report = report_from_json(read_resume_state(state, src_.config().num_layers).report, state);
  r.streams.layers_done = layers_done_;
  if (windows > 0) {  // this rank's slices, named as layer_done() wrote them
    const int64_t H = src_.config().hidden_size;
    auto load = [&](Stream& s, const char* kind) {
      const std::string f = part(stream_file(kind, layers_done_, dist::rank(), dist::size()));
      if (!fs::exists(f)) fail("{}: the resume state has no stream file '{}'", state, f);
      s = Stream(cfg_.stream_dtype, windows, seqlen, H);
      s.load(f);
    };
    load(r.streams.hq, "hq");
    if (fp_stream) load(r.streams.hf, "hf");
  }
  return r;
}

void QuantOutput::rotated_globals(const ModelConfig&, const Tensor& embed, const Tensor& head,
                                  const Tensor& final_norm) {
  const DType e = src_.info("model.embed_tokens.weight").dtype;
  std::vector<OwnedTensor> t;
  t.push_back(encode("model.embed_tokens.weight", embed, e));
  t.push_back(encode("lm_head.weight", head, e));
  t.push_back(encode("model.norm.weight", final_norm, src_.info("model.norm.weight").dtype));
  write_owned(part("globals.safetensors"), t, kModelMeta);
}

void QuantOutput::layer_done(int64_t l, LayerWeights&& wq,
                             std::map<std::string, QuantizedLinear>&& states,
                             const QuantizeReport& report, const StreamState& streams) {
  // Every rank's stream slices first; rank 0 commits the layer once all of them are written.
  const int R = dist::size();
  std::vector<std::string> files;
  if (!streams.hq.empty()) {
    streams.hq.save(part(stream_file("hq", l + 1, dist::rank(), R)));
    if (!streams.hf.empty()) streams.hf.save(part(stream_file("hf", l + 1, dist::rank(), R)));
    for (int r = 0; r < R; ++r) {
      files.push_back(stream_file("hq", l + 1, r, R));
      if (!streams.hf.empty()) files.push_back(stream_file("hf", l + 1, r, R));
    }
  }
  if (R > 1) dist::barrier();
  if (!dist::is_root()) {
    layers_done_ = l + 1;
    return;
  }
  const std::string p = fmt::format("model.layers.{}.", l);
  auto src_dtype = [&](const std::string& n) { return src_.info(n).dtype; };
  std::vector<OwnedTensor> t;
  auto add = [&](const std::string& n, const Tensor& x) {
    if (!x.empty()) t.push_back(encode(n, x, src_dtype(n)));
  };
  add(p + "input_layernorm.weight", wq.input_norm);
  add(p + "post_attention_layernorm.weight", wq.post_attn_norm);
  add(p + "self_attn.q_norm.weight", wq.q_norm);
  add(p + "self_attn.k_norm.weight", wq.k_norm);
  const bool is_signed = cfg_.grid.qmin() < 0;
  for (LinearName n : kAllLinears) {
    const std::string base = p + std::string(linear_path(n));
    const auto q = states.find(base);
    // A weight its integer state reproduces is stored only as that state (dequantized at load).
    if (q == states.end() || !state_reproduces(q->second, wq.linear(n).w, is_signed))
      add(base + ".weight", wq.linear(n).w);
    add(base + ".bias", wq.linear(n).b);
  }
  write_owned(part(fmt::format("layer-{:05d}.model.safetensors", l)), t, kModelMeta);
  t.clear();
  for (const auto& [name, q] : states) has_lowrank_ = has_lowrank_ || q.lowrank.has_value();
  if (!states.empty())
    write_quant_state(states, cfg_.grid, part(fmt::format("layer-{:05d}.state.safetensors", l)));
  // The commit record, then the streams it no longer names.
  const nlohmann::ordered_json state = {{"fingerprint", fingerprint_},
                                        {"layers_done", l + 1},
                                        {"streams", files},
                                        {"report", report_to_json(report)}};
  write_file_atomic(part("state.json"), state.dump(1) + "\n");
  std::error_code ec;
  for (const auto& f : stream_files_)
    if (std::find(files.begin(), files.end(), f) == files.end()) fs::remove(part(f), ec);
  stream_files_ = files;
  layers_done_ = l + 1;
}

std::string QuantOutput::assemble() {
  const ModelConfig& c = src_.config();
  if (layers_done_ != c.num_layers)
    fail("internal error: assembling the output after {} of {} layers", layers_done_, c.num_layers);
  // The embedding, final norm and head: rotated copies, or the source's own bytes.
  std::string globals = part("globals.safetensors");
  if (!cfg_.rotate) {
    std::vector<TensorToWrite> w;
    for (const std::string n : {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"})
      if (src_.has(n)) {
        const auto& info = src_.info(n);
        w.push_back({n, info.dtype, info.shape, src_.file_of(n).bytes(info)});
      }
    globals = part("source-globals.safetensors");
    write_safetensors(globals, std::move(w), kModelMeta);
  }
  std::vector<std::string> model_files = {globals}, state_files;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    model_files.push_back(part(fmt::format("layer-{:05d}.model.safetensors", l)));
    const std::string s = part(fmt::format("layer-{:05d}.state.safetensors", l));
    if (fs::exists(s)) state_files.push_back(s);
  }
  write_combined(partial_, "model", model_files, o_.max_shard_bytes, kModelMeta);
  if (!state_files.empty())
    write_combined(partial_, "quant_state", state_files, o_.max_shard_bytes,
                   state_meta(cfg_.grid, cfg_.lowrank.enabled() || has_lowrank_));

  std::error_code ec;
  for (const char* f : {"config.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json", "generation_config.json"}) {
    const fs::path from = fs::path(src_.dir()) / f;
    if (fs::exists(from)) {
      fs::copy_file(from, fs::path(partial_) / f, fs::copy_options::overwrite_existing, ec);
      if (ec) fail("cannot copy '{}' to '{}': {}", from.string(), partial_ + "/" + f, ec.message());
    }
  }
  ModelConfig oc = c;
  if (cfg_.rotate) {
    oc.tie_word_embeddings = false;
    oc.loaq.rotation = "hadamard";
    oc.loaq.rotate_seed = cfg_.rotate_seed;
    oc.loaq.online_down = true;
    oc.loaq.online_o = true;
  }
  oc.loaq.act_bits = cfg_.act.bits;
  oc.loaq.act_clip = cfg_.act.clip;
  oc.loaq.lowrank = cfg_.lowrank.enabled() || has_lowrank_;
  // The quantized linears whose state reproduces them are only in the state (layer_done).
  oc.loaq.weights_in_state = !state_files.empty();
  const fs::path cfg = fs::path(partial_) / "config.json";
  if (!loaq_section_json(oc).is_null() || c.loaq.lowrank || c.loaq.weights_in_state) {
    // A rotated model (head untied, norms folded), one with quantized activations, low-rank
    // branches or linears stored as integer state: the "loaq" section tells the loader to apply
    // the online rotations and the activation quantization (and refuses a second rotation), to
    // run the branches and to dequantize the linears. A source's own section is replaced.
    if (!fs::exists(cfg)) fail("{}: no config.json to record the rotation in", src_.dir());
    read_json_file(cfg.string());  // validates, naming the file
    std::ifstream in(cfg);
    auto j = nlohmann::ordered_json::parse(in);
    j["tie_word_embeddings"] = oc.tie_word_embeddings;
    if (const nlohmann::json s = loaq_section_json(oc); s.is_null())
      j.erase("loaq");
    else
      j["loaq"] = s;
    write_file_atomic(cfg.string(), j.dump(2) + "\n");
  }
  return partial_;
}

void QuantOutput::commit(const nlohmann::ordered_json& report) {
  write_file_atomic(partial_ + "/report.json", report.dump(2) + "\n");
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
  std::error_code ec;
  fs::remove_all(resume_dir_, ec);
  if (ec) fail("cannot remove '{}': {}", resume_dir_, ec.message());
  const fs::path out = fs::absolute(o_.out_dir).lexically_normal();
  if (fs::exists(out)) {
    const fs::path old = out.parent_path() / staging_name(out, "old");
    fs::rename(out, old, ec);
    if (ec) fail("cannot move the existing '{}' aside: {}", o_.out_dir, ec.message());
    fs::rename(partial_, out, ec);
    if (ec) fail("cannot rename '{}' to '{}': {}", partial_, o_.out_dir, ec.message());
    fs::remove_all(old, ec);
  } else {
    fs::rename(partial_, out, ec);
    if (ec) fail("cannot rename '{}' to '{}': {}", partial_, o_.out_dir, ec.message());
  }
  committed_ = true;
}

void write_model_safetensors(const Model& m, const std::string& path,
                             const std::map<std::string, std::string>& metadata) {
  std::vector<TensorToWrite> t;
  t.push_back(f32_entry("model.embed_tokens.weight", m.weights.embed));
  t.push_back(f32_entry("model.norm.weight", m.weights.final_norm));
  if (!m.weights.lm_head.empty()) t.push_back(f32_entry("lm_head.weight", m.weights.lm_head));
  for (size_t l = 0; l < m.weights.layers.size(); ++l) {
    const auto& w = m.weights.layers[l];
    const std::string p = fmt::format("model.layers.{}.", l);
    t.push_back(f32_entry(p + "input_layernorm.weight", w.input_norm));
    t.push_back(f32_entry(p + "post_attention_layernorm.weight", w.post_attn_norm));
    if (!w.q_norm.empty()) t.push_back(f32_entry(p + "self_attn.q_norm.weight", w.q_norm));
    if (!w.k_norm.empty()) t.push_back(f32_entry(p + "self_attn.k_norm.weight", w.k_norm));
    for (LinearName n : kAllLinears) {
      const Linear& lin = w.linear(n);
      const std::string base = p + std::string(linear_path(n));
      t.push_back(f32_entry(base + ".weight", lin.w));
      if (!lin.b.empty()) t.push_back(f32_entry(base + ".bias", lin.b));
    }
  }
  write_safetensors(path, std::move(t), metadata);
}

void write_quant_output(const std::string& out_dir, bool force, const std::string& source_dir,
                        const Model& m, const std::map<std::string, QuantizedLinear>& linears,
                        const GridConfig& grid, const nlohmann::ordered_json& report) {
  const Checkpoint src(source_dir);
  QuantizeConfig cfg;
  cfg.grid = grid;
  cfg.rotate = m.config.loaq.norms_folded() && !src.config().loaq.norms_folded();
  cfg.rotate_seed = m.config.loaq.rotate_seed;
  cfg.act = ActQuant{m.config.loaq.act_bits, float(m.config.loaq.act_clip)};
  OutputOptions o;
  o.out_dir = out_dir;
  o.force = force;
  o.quiet = true;
  QuantOutput out(src, cfg, o, nlohmann::ordered_json::object());
  if (cfg.rotate)
    out.rotated_globals(m.config, m.weights.embed, m.weights.head(), m.weights.final_norm);
  for (size_t l = 0; l < m.weights.layers.size(); ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    std::map<std::string, QuantizedLinear> states;
    for (const auto& [k, v] : linears)
      if (k.rfind(p, 0) == 0) states[k] = v;
    LayerWeights w = m.weights.layers[l];
    out.layer_done(int64_t(l), std::move(w), std::move(states), QuantizeReport{}, StreamState{});
  }
  out.assemble();
  out.commit(report);
}

}  // namespace loaq
