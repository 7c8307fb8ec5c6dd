#include "io/json_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace loaq {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '{}': {}", path, std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("cannot read '{}': {}", path, std::strerror(errno));
  return ss.str();
}

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& where,
                          const nlohmann::json::parser_callback_t& cb) {
  try {
    return nlohmann::json::parse(text.begin(), text.end(), cb);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", where, e.what());
  }
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& where) {
  try {
    return nlohmann::ordered_json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", where, e.what());
  }
}

nlohmann::json read_json_file(const std::string& path,
                              const nlohmann::json::parser_callback_t& cb) {
  return parse_json(read_text(path), path, cb);
}

nlohmann::ordered_json read_ordered_json_file(const std::string& path) {
  return parse_ordered_json(read_text(path), path);
}

}  // namespace loaq
