#include "pipeline/resume.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "dist/dist.h"
#include "io/json_file.h"

namespace loaq {

namespace fs = std::filesystem;

namespace {

// FNV-1a 64 over bytes.
uint64_t fnv1a(const void* p, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    h ^= b[i];
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

nlohmann::ordered_json run_fingerprint(const Checkpoint& ckpt, const CalibSet& calib,
                                       const nlohmann::ordered_json& settings) {
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  uint64_t h = fnv1a("", 0);
  std::vector<const SafetensorsFile*> all;
  for (const auto& f : ckpt.files()) all.push_back(&f);
  if (const SafetensorsSet* st = ckpt.state_set())  // a source whose linears are integer state
    for (const auto& f : st->files()) all.push_back(&f);
  for (const SafetensorsFile* fp : all) {
    const SafetensorsFile& f = *fp;
    // A shard is identified by its name, size and header (tensor names, dtypes, offsets).
    std::string header;
    for (const auto& t : f.tensors())
      header += t.name + ":" + std::string(dtype_name(t.dtype)) + ":" + std::to_string(t.begin) +
                "-" + std::to_string(t.end) + ";";
    h = fnv1a(header.data(), header.size(), h);
    files.push_back({{"file", fs::path(f.path()).filename().string()},
                     {"bytes", int64_t(fs::file_size(f.path()))}});
  }
  std::ifstream cfg(fs::path(ckpt.dir()) / "config.json", std::ios::binary);
  const std::string config((std::istreambuf_iterator<char>(cfg)), std::istreambuf_iterator<char>());
  nlohmann::ordered_json j;
  j["model"] = {{"dir", fs::absolute(ckpt.dir()).lexically_normal().string()},
                {"files", files},
                {"headers", hex(h)},
                {"config", hex(fnv1a(config.data(), config.size()))}};
  j["calibration"] = {
      {"windows", calib.nsamples},
      {"seqlen", calib.seqlen},
      {"ids", hex(fnv1a(calib.ids.data(), calib.ids.size() * sizeof(int32_t)))},
      {"ranks", dist::size()}};  // each rank's stream slices hold its share of the windows
  j["settings"] = settings;
  return j;
}

std::string fingerprint_mismatch(const nlohmann::json& saved, const nlohmann::json& now) {
  const auto ranks = [](const nlohmann::json& j) {
    return j.contains("calibration") ? j["calibration"].value("ranks", int64_t(1)) : int64_t(1);
  };
  if (ranks(saved) != ranks(now))
    return fmt::format(
        "it was written by a run on {} rank(s) and this run has {} (its streams are split by "
        "rank); resume it with `mpirun -n {}`",
        ranks(saved), ranks(now), ranks(saved));
  for (const char* part : {"model", "calibration", "settings"}) {
    if (!saved.contains(part)) return fmt::format("the saved state has no '{}' part", part);
    if (saved[part] == now[part]) continue;
    std::string what;
    for (auto it = now[part].begin(); it != now[part].end(); ++it)
      if (!saved[part].contains(it.key()) || saved[part][it.key()] != it.value())
        what += fmt::format("{}{}: saved {} vs now {}", what.empty() ? "" : "; ", it.key(),
                            saved[part].contains(it.key()) ? saved[part][it.key()].dump() : "none",
                            it.value().dump());
    return fmt::format("the {} differs ({})", part == std::string("settings") ? "setting" : part,
                       what);
  }
  return "";
}

nlohmann::ordered_json comm_to_json(const std::vector<LayerComm>& comm) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const auto& c : comm)
    a.push_back({{"layer", c.layer}, {"bytes", c.bytes}, {"seconds", c.seconds}});
  return a;
}

nlohmann::ordered_json report_to_json(const QuantizeReport& r) {
  nlohmann::ordered_json lin = nlohmann::ordered_json::array();
  for (const auto& l : r.linears) {
    lin.push_back({{"name", l.name},
                   {"rel_objective", l.objective},
                   {"damp", l.damp},
                   {"damp_raises", l.damp_raises},
                   {"dead_columns", l.dead_columns},
                   {"seconds", l.seconds}});
    if (l.lowrank_rank > 0)
      lin.back()["lowrank"] = {{"rank", l.lowrank_rank},
                               {"bytes", l.lowrank_bytes},
                               {"rel_objective_without", l.objective_main},
                               {"fit_rel_error", l.lowrank_fit},
                               {"seconds", l.lowrank_seconds}};
  }
  nlohmann::ordered_json j = {
      {"linears", lin}, {"timings", r.timings}, {"calib_tokens", r.calib_tokens}};
  if (!r.comm.empty()) j["comm"] = comm_to_json(r.comm);
  return j;
}

QuantizeReport report_from_json(const nlohmann::json& j, const std::string& file) {
  const std::string where = file + ": report";
  const auto object = [&](const nlohmann::json& v, const char* what) -> const nlohmann::json& {
    if (!v.is_object()) fail("{}: malformed report: '{}' is not an object", file, what);
    return v;
  };
  const auto array = [&](const nlohmann::json& v, const char* what) -> const nlohmann::json& {
    if (!v.is_array()) fail("{}: malformed report: '{}' is not an array", file, what);
    return v;
  };
  // A field of an object, by reference (json_get would copy it).
  const auto field = [&](const nlohmann::json& o, const char* key) -> const nlohmann::json& {
    const auto it = o.find(key);
    if (it == o.end()) fail("{}: missing field '{}'", where, key);
    return *it;
  };
  object(j, "report");
  QuantizeReport r;
  for (const auto& l : array(field(j, "linears"), "linears")) {
    object(l, "linears[]");
    LinearReport x;
    x.name = json_get<std::string>(l, "name", where);
    x.objective = json_get<double>(l, "rel_objective", where);
    x.damp = json_get<double>(l, "damp", where);
    x.damp_raises = json_get<int>(l, "damp_raises", where);
    x.dead_columns = json_get<int64_t>(l, "dead_columns", where);
    x.seconds = json_get<double>(l, "seconds", where);
    if (l.contains("lowrank")) {
      const auto& b = object(l.at("lowrank"), "lowrank");
      x.lowrank_rank = json_get<int64_t>(b, "rank", where);
      x.lowrank_bytes = json_get<int64_t>(b, "bytes", where);
      x.objective_main = json_get<double>(b, "rel_objective_without", where);
      x.lowrank_fit = json_get<double>(b, "fit_rel_error", where);
      x.lowrank_seconds = json_get<double>(b, "seconds", where);
    }
    r.linears.push_back(std::move(x));
  }
  const auto& timings = object(field(j, "timings"), "timings");
  for (auto it = timings.begin(); it != timings.end(); ++it)
    r.timings[it.key()] = json_value_as<double>(it.value(), it.key().c_str(), where);
  r.calib_tokens = json_get<int64_t>(j, "calib_tokens", where);
  if (j.contains("comm"))
    for (const auto& c : array(j.at("comm"), "comm")) {
      object(c, "comm[]");
      r.comm.push_back({json_get<int64_t>(c, "layer", where), json_get<int64_t>(c, "bytes", where),
                        json_get<double>(c, "seconds", where)});
    }
  return r;
}

ResumeState read_resume_state(const std::string& path, int64_t num_layers) {
  const nlohmann::json j = read_json_file(path);
  if (!j.is_object()) fail("{}: the resume state is not a JSON object", path);
  ResumeState s;
  const auto fp = json_get<nlohmann::json>(j, "fingerprint", path);
  if (!fp.is_object()) fail("{}: field 'fingerprint' is not an object", path);
  for (const char* part : {"model", "calibration", "settings"})
    if (!fp.contains(part) || !fp.at(part).is_object())
      fail("{}: the fingerprint has no '{}' object", path, part);
  if (json_get_or<int64_t>(fp.at("calibration"), "ranks", path, 1) < 1)
    fail("{}: field 'ranks' of the fingerprint must be at least 1", path);
  s.fingerprint = fp;
  s.layers_done = json_get<int64_t>(j, "layers_done", path);
  if (s.layers_done < 0 || s.layers_done > num_layers)
    fail("{}: field 'layers_done' = {} is outside [0, {}] (the model's layers)", path,
         s.layers_done, num_layers);
  const auto streams = json_get_or<nlohmann::json>(j, "streams", path, nlohmann::json::array());
  if (!streams.is_array()) fail("{}: field 'streams' is not an array", path);
  for (const auto& f : streams) {
    const auto name = json_value_as<std::string>(f, "streams", path);
    const bool plain = name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
    const bool stream =
        (name.starts_with("hq-") || name.starts_with("hf-")) && name.ends_with(".bin");
    if (!plain || !stream)
      fail("{}: field 'streams' names '{}', which is not a stream file of the resume folder", path,
           name);
    s.streams.push_back(name);
  }
  s.report = json_get<nlohmann::json>(j, "report", path);
  if (!s.report.is_object()) fail("{}: field 'report' is not an object", path);
  return s;
}

}  // namespace loaq
