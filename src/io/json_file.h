#pragma once
// Reading JSON files with errors that name the file and the field.
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace loaq {

// Parses the JSON file at `path`; throws loaq::Error naming the file (and the parse position).
nlohmann::json read_json_file(const std::string& path);

// Reads j[key] as T; throws naming `path` and `key` if it is missing or has the wrong type.
template <class T>
T json_get(const nlohmann::json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) fail("{}: missing field '{}'", path, key);
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    fail("{}: field '{}' has the wrong type (found {})", path, key, it->dump());
  }
}

// Like json_get, but returns `fallback` when the key is absent or null.
template <class T>
T json_get_or(const nlohmann::json& j, const char* key, const std::string& path, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return json_get<T>(j, key, path);
}

}  // namespace loaq
