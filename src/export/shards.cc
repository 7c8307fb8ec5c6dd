#include "export/shards.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"

namespace loaq {

std::vector<std::string> write_sharded(const std::string& dir,
                                       const std::vector<PlannedTensor>& tensors,
                                       uint64_t max_shard_bytes,
                                       const std::map<std::string, std::string>& metadata) {
  if (max_shard_bytes == 0) fail("the shard size must be positive");
  std::vector<std::vector<size_t>> shards(1);
  uint64_t cur = 0, total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t n = uint64_t(shape_numel(tensors[i].shape)) * dtype_size(tensors[i].dtype);
    if (cur > 0 && cur + n > max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(i);
    cur += n;
    total += n;
  }
  const size_t ns = shards.size();
  std::vector<std::string> files;
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  for (size_t s = 0; s < ns; ++s) {
    const std::string fname = ns == 1
                                  ? "model.safetensors"
                                  : fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, ns);
    std::vector<std::vector<std::byte>> bytes;
    bytes.reserve(shards[s].size());
    std::vector<TensorToWrite> tw;
    for (size_t i : shards[s]) {
      const auto& t = tensors[i];
      bytes.push_back(t.make());
      tw.push_back({t.name, t.dtype, t.shape, std::span<const std::byte>(bytes.back())});
      weight_map[t.name] = fname;
    }
    write_safetensors((std::filesystem::path(dir) / fname).string(), std::move(tw), metadata);
    files.push_back(fname);
  }
  if (ns > 1) {
    nlohmann::ordered_json idx;
    idx["metadata"] = {{"total_size", total}};
    idx["weight_map"] = weight_map;
    write_file_atomic((std::filesystem::path(dir) / "model.safetensors.index.json").string(),
                      idx.dump(2) + "\n");
    files.push_back("model.safetensors.index.json");
  }
  return files;
}

uint64_t parse_size(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || i > 18)
    fail(
        "size '{}': expected a number of bytes, optionally followed by KB, MB, GB, KiB, MiB or GiB",
        s);
  const uint64_t n = std::stoull(s.substr(0, i));
  std::string unit = s.substr(i);
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  uint64_t mul = 0;
  if (unit.empty() || unit == "B")
    mul = 1;
  else if (unit == "KB")
    mul = 1000;
  else if (unit == "MB")
    mul = 1000'000;
  else if (unit == "GB")
    mul = 1000'000'000;
  else if (unit == "KIB")
    mul = 1ull << 10;
  else if (unit == "MIB")
    mul = 1ull << 20;
  else if (unit == "GIB")
    mul = 1ull << 30;
  else
    fail("size '{}': unknown unit '{}' (KB, MB, GB, KiB, MiB, GiB)", s, s.substr(i));
  if (n == 0) fail("size '{}' must be positive", s);
  // Sizes are compared with int64_t byte counts: anything above that range is refused.
  if (n > uint64_t(std::numeric_limits<int64_t>::max()) / mul)
    fail("size '{}' is too large (at most {} bytes)", s, std::numeric_limits<int64_t>::max());
  return n * mul;
}

}  // namespace loaq
