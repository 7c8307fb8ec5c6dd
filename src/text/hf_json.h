#pragma once
// Reading the parts of a tokenizer.json: every error names the file (`where`), the JSON path of the
// component (e.g. "pre_tokenizer.pretokenizers[1]") and what is wrong.
#include <nlohmann/json.hpp>
#include <string>

namespace loaq {

// j["type"] of the component at `path`; throws when j is not an object or has no string type.
const std::string& json_type(const nlohmann::json& j, const std::string& where,
                             const std::string& path);
// j[key] as a string; throws when it is missing or not a string.
std::string json_string(const nlohmann::json& j, const char* key, const std::string& where,
                        const std::string& path);
// j[key] as a bool, `fallback` when missing or null; throws when it is not a bool.
bool json_bool(const nlohmann::json& j, const char* key, bool fallback, const std::string& where,
               const std::string& path);
// j[key] as a non-negative integer, `fallback` when missing or null.
int64_t json_count(const nlohmann::json& j, const char* key, int64_t fallback,
                   const std::string& where, const std::string& path);
// j[key] as a string holding exactly one character (Metaspace replacement, Strip content).
char32_t json_char(const nlohmann::json& j, const char* key, const std::string& where,
                   const std::string& path);

}  // namespace loaq
