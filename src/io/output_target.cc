#include "io/output_target.h"

#include <algorithm>
#include <system_error>

#include "core/error.h"
#include "io/safetensors.h"

namespace loaq {

namespace fs = std::filesystem;

namespace {

// The path with symbolic links of its existing part resolved, made absolute and normal.
fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(fs::absolute(p), ec);
  if (ec) r = fs::absolute(p).lexically_normal();
  if (r.filename().empty()) r = r.parent_path();  // "dir/" → "dir"
  return r;
}

// True when `inner` is `outer` or lies inside it (both resolved).
bool is_within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin(), o = outer.begin();
  for (; o != outer.end(); ++o, ++i)
    if (i == inner.end() || *i != *o) return false;
  return true;
}

// The metadata of the first safetensors file of `dir` (in name order), or a reason why there is
// none to read.
std::string first_safetensors_metadata(const fs::path& dir,
                                       std::map<std::string, std::string>* md) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".safetensors") files.push_back(e.path());
  if (ec) return "it cannot be listed: " + ec.message();
  if (files.empty()) return "it holds no safetensors file";
  std::sort(files.begin(), files.end());
  try {
    *md = SafetensorsFile(files.front().string()).metadata();
  } catch (const Error& e) {
    return std::string("its weights cannot be read (") + e.what() + ")";
  }
  return "";
}

}  // namespace

std::string output_kind_name(OutputKind k) {
  switch (k) {
    case OutputKind::kQuantize:
      return "loaq quantization output";
    case OutputKind::kGptqExport:
      return "loaq GPTQ export";
    case OutputKind::kHfExport:
      return "loaq HF export";
    case OutputKind::kPeftExport:
      return "loaq PEFT adapter export";
  }
  return "?";
}

std::string export_marker(OutputKind k) {
  return k == OutputKind::kGptqExport  ? "gptq"
         : k == OutputKind::kHfExport  ? "hf"
         : k == OutputKind::kPeftExport ? "peft"
                                        : "";
}

std::string why_not_replaceable(const fs::path& dir, OutputKind kind) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "it is not a directory";
  if (fs::is_empty(dir, ec) && !ec) return "";
  std::map<std::string, std::string> md;
  if (kind == OutputKind::kQuantize) {
    if (!fs::exists(dir / "report.json") ||
        (!fs::exists(dir / "model.safetensors") && !fs::exists(dir / "model.safetensors.index.json")))
      return "it has no report.json and model.safetensors";
    if (fs::exists(dir / "model.safetensors")) {
      try {
        md = SafetensorsFile((dir / "model.safetensors").string()).metadata();
      } catch (const Error& e) {
        return std::string("its weights cannot be read (") + e.what() + ")";
      }
    } else if (std::string why = first_safetensors_metadata(dir, &md); !why.empty()) {
      return why;
    }
    if (md.count("producer") && md.at("producer") == "loaq" && !md.count("loaq_export")) return "";
    return "its model.safetensors was not written by `loaq quantize` (no metadata producer=loaq)";
  }
  if (std::string why = first_safetensors_metadata(dir, &md); !why.empty()) return why;
  const std::string want = export_marker(kind);
  if (md.count("loaq_export") && md.at("loaq_export") == want) return "";
  return "its weights carry no metadata loaq_export=" + want;
}

void check_output_target(const std::string& out, bool force, OutputKind kind,
                         const std::vector<std::string>& inputs, const std::string& flag) {
  if (out.empty()) fail("{} is required", flag);
  const fs::path o = resolved(out);
  for (const auto& in : inputs) {
    if (in.empty()) continue;
    const fs::path i = resolved(in);
    if (is_within(o, i))
      fail("{} '{}' is or lies inside the input '{}': loaq never writes into its input", flag, out,
           in);
    if (is_within(i, o))
      fail("{} '{}' contains the input '{}': replacing it would delete the input", flag, out, in);
  }
  std::error_code ec;
  const auto st = fs::symlink_status(out, ec);
  if (!fs::exists(st)) return;
  if (!fs::is_directory(fs::status(out, ec)))
    fail("{} '{}' exists and is not a directory; refusing to replace it{}", flag, out,
         force ? " even with --force" : "");
  if (!force) fail("output directory '{}' exists (use --force to replace it)", out);
  if (const std::string why = why_not_replaceable(o, kind); !why.empty())
    fail(
        "{} '{}' exists and is not a {} ({}); --force replaces only such a directory or an empty "
        "one: remove it yourself or choose another {}",
        flag, out, output_kind_name(kind), why, flag);
}

}  // namespace loaq
