#include "text/hf_decoders.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/byte_level.h"
#include "text/hf_json.h"
#include "text/utf8.h"

namespace loaq {

namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

void parse_into(const nlohmann::json& j, const std::string& where, const std::string& path,
                std::vector<DecoderStep>& steps) {
  const std::string& type = json_type(j, where, path);
  DecoderStep step;
  if (type == "Sequence") {
    const auto it = j.find("decoders");
    if (it == j.end() || !it->is_array())
      fail("{}: {}.decoders is missing or not an array", where, path);
    for (size_t i = 0; i < it->size(); ++i)
      parse_into((*it)[i], where, fmt::format("{}.decoders[{}]", path, i), steps);
    return;
  } else if (type == "ByteLevel") {
    step.kind = DecoderKind::kByteLevel;
  } else if (type == "Metaspace") {
    step.kind = DecoderKind::kMetaspace;
    utf8::append(step.content, json_char(j, "replacement", where, path));
    bool prepend = true;
    if (const auto it = j.find("prepend_scheme"); it != j.end() && it->is_string())
      prepend = it->get<std::string>() != "never";
    if (!json_bool(j, "add_prefix_space", true, where, path)) prepend = false;
    step.prepend = prepend;
  } else if (type == "Replace") {
    step.kind = DecoderKind::kReplace;
    step.pattern = parse_hf_pattern(j, where, path);
    step.content = json_string(j, "content", where, path);
  } else if (type == "ByteFallback") {
    step.kind = DecoderKind::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecoderKind::kFuse;
  } else if (type == "Strip") {
    step.kind = DecoderKind::kStrip;
    utf8::append(step.content, json_char(j, "content", where, path));
    step.start = size_t(json_count(j, "start", 0, where, path));
    step.stop = size_t(json_count(j, "stop", 0, where, path));
  } else {
    fail(
        "{}: {}: decoder type '{}' is not supported (supported: Sequence, ByteLevel, Metaspace, "
        "Replace, ByteFallback, Fuse, Strip)",
        where, path, type);
  }
  steps.push_back(std::move(step));
}

std::vector<std::string> decode_byte_level(const std::vector<std::string>& tokens) {
  std::string bytes;
  for (const std::string& t : tokens) {
    const size_t mark = bytes.size();
    bool all = true;
    for (size_t i = 0; i < t.size();) {
      bool valid = false;
      const size_t n = utf8::char_length(t, i, &valid);
      const int b = valid ? byte_level::char_to_byte(utf8::decode(t, i, n)) : -1;
      if (b < 0) {
        all = false;
        break;
      }
      bytes.push_back(static_cast<char>(b));
      i += n;
    }
    if (!all) {
      bytes.resize(mark);
      bytes.append(t);
    }
  }
  return {utf8::to_valid_lossy(bytes)};
}

std::vector<std::string> metaspace(const DecoderStep& step, std::vector<std::string> tokens) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string_view with = (i == 0 && step.prepend) ? "" : " ";
    std::string& t = tokens[i];
    if (t.find(step.content) == std::string::npos) continue;
    std::string out;
    for (size_t p = 0; p < t.size();) {
      if (t.compare(p, step.content.size(), step.content) == 0) {
        out.append(with);
        p += step.content.size();
      } else {
        out.push_back(t[p++]);
      }
    }
    t = std::move(out);
  }
  return tokens;
}

// The byte of a "<0xXX>" token, or -1.
int fallback_byte(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::vector<std::string> byte_fallback(std::vector<std::string> tokens) {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  std::string run;
  size_t run_tokens = 0;
  auto flush = [&] {
    if (run_tokens == 0) return;
    if (utf8::is_valid(run)) {
      out.push_back(run);
    } else {
      for (size_t k = 0; k < run_tokens; ++k) out.emplace_back(kReplacementChar);
    }
    run.clear();
    run_tokens = 0;
  };
  for (std::string& t : tokens) {
    const int b = fallback_byte(t);
    if (b >= 0) {
      run.push_back(static_cast<char>(b));
      ++run_tokens;
    } else {
      flush();
      out.push_back(std::move(t));
    }
  }
  flush();
  return out;
}

std::vector<std::string> strip(const DecoderStep& step, std::vector<std::string> tokens) {
  const std::string& c = step.content;
  for (std::string& t : tokens) {
    size_t b = 0, e = t.size();
    for (size_t k = 0; k < step.start && e - b >= c.size() && t.compare(b, c.size(), c) == 0; ++k)
      b += c.size();
    for (size_t k = 0;
         k < step.stop && e - b >= c.size() && t.compare(e - c.size(), c.size(), c) == 0; ++k)
      e -= c.size();
    t = t.substr(b, e - b);
  }
  return tokens;
}

}  // namespace

DecoderChain parse_decoder(const nlohmann::json& j, const std::string& where) {
  DecoderChain chain;
  if (j.is_null()) return chain;
  chain.present = true;
  parse_into(j, where, "decoder", chain.steps);
  return chain;
}

std::string decode_tokens(const DecoderChain& chain, std::vector<std::string> tokens) {
  if (!chain.present) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out.push_back(' ');
      out.append(tokens[i]);
    }
    return out;
  }
  for (const DecoderStep& step : chain.steps) {
    switch (step.kind) {
      case DecoderKind::kByteLevel:
        tokens = decode_byte_level(tokens);
        break;
      case DecoderKind::kMetaspace:
        tokens = metaspace(step, std::move(tokens));
        break;
      case DecoderKind::kReplace:
        for (std::string& t : tokens) t = replace_all(*step.pattern, step.content, t);
        break;
      case DecoderKind::kByteFallback:
        tokens = byte_fallback(std::move(tokens));
        break;
      case DecoderKind::kFuse: {
        std::string all;
        for (const std::string& t : tokens) all.append(t);
        tokens.assign(1, std::move(all));
        break;
      }
      case DecoderKind::kStrip:
        tokens = strip(step, std::move(tokens));
        break;
    }
  }
  std::string out;
  for (const std::string& t : tokens) out.append(t);
  return out;
}

}  // namespace loaq
