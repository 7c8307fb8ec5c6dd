#pragma once
// Reading JSON with errors that name the file and the field. Every JSON loaq reads (config.json,
// tokenizer files, safetensors headers, shard indexes, .jsonl records, its own outputs) goes
// through parse_json / read_json_file, which turn every nlohmann exception (a syntax error, a
// number that overflows a double, invalid UTF-8) into a loaq::Error "where: invalid JSON: ...".
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/error.h"

namespace loaq {

// Parses `text`; `where` (a file, "file:line") names it in errors. A callback, when given, sees
// every parse event (as nlohmann::json::parse's).
nlohmann::json parse_json(std::string_view text, const std::string& where,
                          const nlohmann::json::parser_callback_t& cb = nullptr);
nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& where);

// Parses the JSON file at `path`; throws loaq::Error naming the file (and the parse position).
// A callback, when given, is parse_json's.
nlohmann::json read_json_file(const std::string& path,
                              const nlohmann::json::parser_callback_t& cb = nullptr);
nlohmann::ordered_json read_ordered_json_file(const std::string& path);

// `v` (the value of field `key` of `path`) as T. Integers must be JSON integers, or numbers with
// an integral value, within T's range; floating-point values must be finite numbers within T's
// range. Anything else is an error naming `path` and `key`.
template <class T>
T json_value_as(const nlohmann::json& v, const char* key, const std::string& path) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using L = std::numeric_limits<T>;
    if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      if (u > uint64_t(L::max())) fail("{}: field '{}' = {} is out of range", path, key, u);
      return T(u);
    }
    if (v.is_number_integer()) {
      const auto i = v.get<int64_t>();
      if (i < 0 ? !L::is_signed || i < int64_t(L::min()) : uint64_t(i) > uint64_t(L::max()))
        fail("{}: field '{}' = {} is out of range", path, key, i);
      return T(i);
    }
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (!std::isfinite(d) || d != std::trunc(d))
        fail("{}: field '{}' must be an integer (found {})", path, key, v.dump());
      // 2^digits is exactly representable; every integer below it converts without overflow.
      if (d < double(L::min()) || d >= std::ldexp(1.0, L::digits))
        fail("{}: field '{}' = {} is out of range", path, key, v.dump());
      return T(d);
    }
    fail("{}: field '{}' has the wrong type: expected an integer (found {})", path, key, v.dump());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number())
      fail("{}: field '{}' has the wrong type: expected a number (found {})", path, key, v.dump());
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > double(std::numeric_limits<T>::max()))
      fail("{}: field '{}' = {} is not a finite number in range", path, key, v.dump());
    return T(d);
  } else {
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception&) {
      fail("{}: field '{}' has the wrong type (found {})", path, key, v.dump());
    }
  }
}

// Reads j[key] as T (json_value_as); throws naming `path` and `key` if it is missing or invalid.
template <class T>
T json_get(const nlohmann::json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) fail("{}: missing field '{}'", path, key);
  return json_value_as<T>(*it, key, path);
}

// Like json_get, but returns `fallback` when the key is absent or null.
template <class T>
T json_get_or(const nlohmann::json& j, const char* key, const std::string& path, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return json_get<T>(j, key, path);
}

}  // namespace loaq
