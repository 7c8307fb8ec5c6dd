#include "pipeline/resume.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "dist/dist.h"

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
  for (const auto& f : ckpt.files()) {
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

std::string fingerprint_mismatch(const nlohmann::ordered_json& saved,
                                 const nlohmann::ordered_json& now) {
  const auto ranks = [](const nlohmann::ordered_json& j) {
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

QuantizeReport report_from_json(const nlohmann::ordered_json& j, const std::string& file) {
  QuantizeReport r;
  try {
    for (const auto& l : j.at("linears")) {
      LinearReport x;
      x.name = l.at("name").get<std::string>();
      x.objective = l.at("rel_objective").get<double>();
      x.damp = l.at("damp").get<double>();
      x.damp_raises = l.at("damp_raises").get<int>();
      x.dead_columns = l.at("dead_columns").get<int64_t>();
      x.seconds = l.at("seconds").get<double>();
      if (l.contains("lowrank")) {
        const auto& b = l.at("lowrank");
        x.lowrank_rank = b.at("rank").get<int64_t>();
        x.lowrank_bytes = b.at("bytes").get<int64_t>();
        x.objective_main = b.at("rel_objective_without").get<double>();
        x.lowrank_fit = b.at("fit_rel_error").get<double>();
        x.lowrank_seconds = b.at("seconds").get<double>();
      }
      r.linears.push_back(std::move(x));
    }
    for (auto it = j.at("timings").begin(); it != j.at("timings").end(); ++it)
      r.timings[it.key()] = it.value().get<double>();
    r.calib_tokens = j.at("calib_tokens").get<int64_t>();
    for (const auto& c : j.value("comm", nlohmann::ordered_json::array()))
      r.comm.push_back({c.at("layer").get<int64_t>(), c.at("bytes").get<int64_t>(),
                        c.at("seconds").get<double>()});
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed report: {}", file, e.what());
  }
  return r;
}

}  // namespace loaq
