#include "text/hf_normalizers.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/hf_json.h"
#include "text/unicode_props.h"
#include "text/utf8.h"

namespace loaq {

namespace {

const icu::Normalizer2& icu_normalizer(NormalizerKind kind) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (kind) {
    case NormalizerKind::kNfc:
      n = icu::Normalizer2::getNFCInstance(status);
      break;
    case NormalizerKind::kNfd:
      n = icu::Normalizer2::getNFDInstance(status);
      break;
    case NormalizerKind::kNfkc:
      n = icu::Normalizer2::getNFKCInstance(status);
      break;
    default:
      n = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  if (U_FAILURE(status) || !n)
    fail("ICU: cannot load the Unicode normalization data ({})", u_errorName(status));
  return *n;
}

// Unicode normalization of every well-formed stretch of `s`.
std::string unicode_normalize(NormalizerKind kind, const std::string& s) {
  bool ascii = true;
  for (const char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return s;  // ASCII is stable under all four forms
  const icu::Normalizer2& norm = icu_normalizer(kind);
  std::string out;
  out.reserve(s.size());
  size_t run = 0;  // start of the current well-formed stretch
  auto flush = [&](size_t end) {
    if (end <= run) return;
    const std::string_view piece(s.data() + run, end - run);
    icu::StringByteSink<std::string> sink(&out);
    UErrorCode status = U_ZERO_ERROR;
    norm.normalizeUTF8(0, icu::StringPiece(piece.data(), int32_t(piece.size())), sink, nullptr,
                       status);
    if (U_FAILURE(status)) fail("ICU: Unicode normalization failed ({})", u_errorName(status));
  };
  for (size_t i = 0; i < s.size();) {
    bool valid = false;
    const size_t n = utf8::char_length(s, i, &valid);
    if (!valid) {
      flush(i);
      out.append(s, i, n);
      run = i + n;
    }
    i += n;
  }
  flush(s.size());
  return out;
}

std::string strip(const std::string& s, bool left, bool right) {
  size_t b = 0, e = s.size();
  bool leading = true;
  size_t content_end = 0;  // end of the last character that is not White_Space
  for (size_t i = 0; i < s.size();) {
    bool valid = false;
    const size_t n = utf8::char_length(s, i, &valid);
    const bool space = valid && unicode::is_white_space(utf8::decode(s, i, n));
    if (!space) {
      if (leading && left) b = i;
      leading = false;
      content_end = i + n;
    }
    i += n;
  }
  if (leading && left) b = s.size();
  if (right) e = std::max(content_end, b);
  return s.substr(b, e - b);
}

void parse_into(const nlohmann::json& j, const std::string& where, const std::string& path,
                NormalizerChain& chain) {
  const std::string& type = json_type(j, where, path);
  NormalizerStep step;
  if (type == "Sequence") {
    const auto it = j.find("normalizers");
    if (it == j.end() || !it->is_array())
      fail("{}: {}.normalizers is missing or not an array", where, path);
    for (size_t i = 0; i < it->size(); ++i)
      parse_into((*it)[i], where, fmt::format("{}.normalizers[{}]", path, i), chain);
    return;
  } else if (type == "Prepend") {
    step.kind = NormalizerKind::kPrepend;
    step.text = json_string(j, "prepend", where, path);
  } else if (type == "Replace") {
    step.kind = NormalizerKind::kReplace;
    step.text = json_string(j, "content", where, path);
    step.pattern = parse_hf_pattern(j, where, path);
  } else if (type == "NFC") {
    step.kind = NormalizerKind::kNfc;
  } else if (type == "NFD") {
    step.kind = NormalizerKind::kNfd;
  } else if (type == "NFKC") {
    step.kind = NormalizerKind::kNfkc;
  } else if (type == "NFKD") {
    step.kind = NormalizerKind::kNfkd;
  } else if (type == "Strip") {
    step.kind = NormalizerKind::kStrip;
    step.strip_left = json_bool(j, "strip_left", false, where, path);
    step.strip_right = json_bool(j, "strip_right", false, where, path);
  } else {
    fail(
        "{}: {}: normalizer type '{}' is not supported (supported: Sequence, Prepend, Replace, "
        "NFC, NFD, NFKC, NFKD, Strip)",
        where, path, type);
  }
  chain.push_back(std::move(step));
}

}  // namespace

NormalizerChain parse_normalizer(const nlohmann::json& j, const std::string& where) {
  NormalizerChain chain;
  if (!j.is_null()) parse_into(j, where, "normalizer", chain);
  return chain;
}

std::string normalize(const NormalizerChain& chain, std::string s) {
  for (const NormalizerStep& step : chain) {
    switch (step.kind) {
      case NormalizerKind::kPrepend:
        if (!s.empty()) s.insert(0, step.text);
        break;
      case NormalizerKind::kReplace:
        s = replace_all(*step.pattern, step.text, s);
        break;
      case NormalizerKind::kStrip:
        s = strip(s, step.strip_left, step.strip_right);
        break;
      default:
        s = unicode_normalize(step.kind, s);
        break;
    }
  }
  return s;
}

}  // namespace loaq
