#include "text/hf_json.h"

#include "core/error.h"
#include "text/utf8.h"

namespace loaq {

const std::string& json_type(const nlohmann::json& j, const std::string& where,
                             const std::string& path) {
  if (!j.is_object()) fail("{}: {} is not an object", where, path);
  const auto it = j.find("type");
  if (it == j.end() || !it->is_string()) fail("{}: {} has no \"type\"", where, path);
  return it->get_ref<const std::string&>();
}

std::string json_string(const nlohmann::json& j, const char* key, const std::string& where,
                        const std::string& path) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    fail("{}: {}.{} is missing or not a string", where, path, key);
  return it->get<std::string>();
}

bool json_bool(const nlohmann::json& j, const char* key, bool fallback, const std::string& where,
               const std::string& path) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail("{}: {}.{} is not a boolean: {}", where, path, key, it->dump());
  return it->get<bool>();
}

int64_t json_count(const nlohmann::json& j, const char* key, int64_t fallback,
                   const std::string& where, const std::string& path) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < 0)
    fail("{}: {}.{} is not a non-negative integer: {}", where, path, key, it->dump());
  return it->get<int64_t>();
}

char32_t json_char(const nlohmann::json& j, const char* key, const std::string& where,
                   const std::string& path) {
  const std::string s = json_string(j, key, where, path);
  bool valid = false;
  if (s.empty() || utf8::char_length(s, 0, &valid) != s.size() || !valid)
    fail("{}: {}.{} must be exactly one character, not '{}'", where, path, key, s);
  return utf8::decode(s, 0, s.size());
}

}  // namespace loaq
