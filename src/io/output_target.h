#pragma once
// Where an output directory may go. loaq never writes over its own input, never replaces a
// regular file with a directory, and with --force replaces only a directory that is empty or an
// output of the same kind that loaq wrote (recognized by the metadata of its safetensors files:
// `producer=loaq` plus report.json for a quantization output, `loaq_export=<format>` for an
// export).
#include <filesystem>
#include <string>
#include <vector>

namespace loaq {

enum class OutputKind { kQuantize, kGptqExport, kHfExport, kPeftExport };

// "loaq quantization output", "loaq GPTQ export", "loaq HF export".
std::string output_kind_name(OutputKind k);
// The value of the `loaq_export` metadata key an export of this kind writes ("gptq", "hf").
std::string export_marker(OutputKind k);

// Why the existing directory `dir` may not be replaced by an output of `kind`; empty when it may
// (it is empty, or it is such an output).
std::string why_not_replaceable(const std::filesystem::path& dir, OutputKind kind);

// Throws loaq::Error (naming `flag` and the paths) unless `out` may receive an output of `kind`:
// it must not be, contain or lie inside any of `inputs` (compared as resolved paths, symbolic links
// followed); an existing `out` needs `force`, must be a directory, and must be replaceable.
void check_output_target(const std::string& out, bool force, OutputKind kind,
                         const std::vector<std::string>& inputs, const std::string& flag = "--out");

}  // namespace loaq
