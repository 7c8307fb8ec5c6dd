#include "text/hf_pre_tokenizers.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/byte_level.h"
#include "text/hf_json.h"
#include "text/unicode_props.h"
#include "text/utf8.h"

namespace loaq {

namespace {

// GPT-2's pre-tokenization pattern, used by ByteLevel when use_regex is set.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

SplitBehavior parse_behavior(const nlohmann::json& j, const std::string& where,
                             const std::string& path) {
  const std::string b = json_string(j, "behavior", where, path);
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  fail(
      "{}: {}.behavior '{}' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, "
      "Contiguous",
      where, path, b);
}

void parse_into(const nlohmann::json& j, const std::string& where, const std::string& path,
                PreTokenizerChain& chain) {
  const std::string& type = json_type(j, where, path);
  PreTokenizerStep step;
  if (type == "Sequence") {
    const auto it = j.find("pretokenizers");
    if (it == j.end() || !it->is_array())
      fail("{}: {}.pretokenizers is missing or not an array", where, path);
    for (size_t i = 0; i < it->size(); ++i)
      parse_into((*it)[i], where, fmt::format("{}.pretokenizers[{}]", path, i), chain);
    return;
  } else if (type == "Split") {
    step.kind = PreTokenizerKind::kSplit;
    step.pattern = parse_hf_pattern(j, where, path);
    step.behavior = parse_behavior(j, where, path);
    step.invert = json_bool(j, "invert", false, where, path);
  } else if (type == "ByteLevel") {
    step.kind = PreTokenizerKind::kByteLevel;
    step.add_prefix_space = json_bool(j, "add_prefix_space", true, where, path);
    if (json_bool(j, "use_regex", true, where, path))
      step.pattern = HfRegex::pattern(kGpt2Pattern, where + ": GPT-2 pattern");
  } else if (type == "Metaspace") {
    step.kind = PreTokenizerKind::kMetaspace;
    step.replacement.clear();
    utf8::append(step.replacement, json_char(j, "replacement", where, path));
    step.split = json_bool(j, "split", true, where, path);
    step.prepend_scheme = PrependScheme::kAlways;
    if (const auto it = j.find("prepend_scheme"); it != j.end() && !it->is_null()) {
      const std::string s = it->is_string() ? it->get<std::string>() : it->dump();
      if (s == "always") {
        step.prepend_scheme = PrependScheme::kAlways;
      } else if (s == "first") {
        step.prepend_scheme = PrependScheme::kFirst;
      } else if (s == "never") {
        step.prepend_scheme = PrependScheme::kNever;
      } else {
        fail("{}: {}.prepend_scheme '{}' is not one of always, first, never", where, path, s);
      }
    }
    // Legacy files say add_prefix_space instead; false means never.
    if (!json_bool(j, "add_prefix_space", true, where, path)) {
      if (j.contains("prepend_scheme") && step.prepend_scheme != PrependScheme::kNever)
        fail("{}: {}: add_prefix_space false contradicts prepend_scheme", where, path);
      step.prepend_scheme = PrependScheme::kNever;
    }
  } else if (type == "Digits") {
    step.kind = PreTokenizerKind::kDigits;
    step.individual_digits = json_bool(j, "individual_digits", false, where, path);
  } else {
    fail(
        "{}: {}: pre-tokenizer type '{}' is not supported (supported: Sequence, Split, "
        "ByteLevel, Metaspace, Digits)",
        where, path, type);
  }
  chain.push_back(std::move(step));
}

// Every numeric character as a match of its own (the reference's char-predicate pattern).
std::vector<std::pair<size_t, size_t>> numeric_chars(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> m;
  for (size_t i = 0; i < s.size();) {
    bool valid = false;
    const size_t n = utf8::char_length(s, i, &valid);
    if (valid && unicode::is_numeric(utf8::decode(s, i, n))) m.emplace_back(i, i + n);
    i += n;
  }
  return m;
}

// Every occurrence of `c` (a one-character UTF-8 string) as a match of its own.
std::vector<std::pair<size_t, size_t>> char_occurrences(std::string_view s, std::string_view c) {
  std::vector<std::pair<size_t, size_t>> m;
  for (size_t i = s.find(c); i != std::string_view::npos; i = s.find(c, i + c.size()))
    m.emplace_back(i, i + c.size());
  return m;
}

std::string replace_spaces(std::string_view s, std::string_view with) {
  std::string out;
  out.reserve(s.size() + 8);
  for (const char c : s) {
    if (c == ' ') {
      out.append(with);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// One step over one piece; appends the resulting pieces.
void apply_step(const PreTokenizerStep& step, PreToken piece, std::vector<PreToken>& out) {
  std::vector<std::string_view> parts;
  auto emit_parts = [&](const std::string& s, const std::vector<std::pair<size_t, size_t>>& m,
                        bool invert, SplitBehavior behavior) {
    parts.clear();
    split_by_matches(s, m, invert, behavior, parts);
    for (const std::string_view p : parts)
      out.push_back(PreToken{std::string(p), piece.at_start && p.data() == s.data()});
  };
  switch (step.kind) {
    case PreTokenizerKind::kSplit:
      emit_parts(piece.text, step.pattern->find_all(piece.text), step.invert, step.behavior);
      return;
    case PreTokenizerKind::kDigits:
      emit_parts(piece.text, numeric_chars(piece.text), false,
                 step.individual_digits ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
      return;
    case PreTokenizerKind::kMetaspace: {
      std::string s = replace_spaces(piece.text, step.replacement);
      const bool starts = s.compare(0, step.replacement.size(), step.replacement) == 0;
      if (!starts && (step.prepend_scheme == PrependScheme::kAlways ||
                      (step.prepend_scheme == PrependScheme::kFirst && piece.at_start)))
        s.insert(0, step.replacement);
      if (!step.split) {
        if (!s.empty()) out.push_back(PreToken{std::move(s), piece.at_start});
        return;
      }
      emit_parts(s, char_occurrences(s, step.replacement), false, SplitBehavior::kMergedWithNext);
      return;
    }
    case PreTokenizerKind::kByteLevel: {
      std::string s;
      if (step.add_prefix_space && !piece.text.starts_with(' ')) s.push_back(' ');
      s.append(piece.text);
      if (step.pattern) {
        parts.clear();
        split_by_matches(s, step.pattern->find_all(s), false, SplitBehavior::kIsolated, parts);
      } else {
        parts.assign(1, s);
      }
      for (const std::string_view p : parts) {
        if (p.empty()) continue;
        PreToken t{std::string(), piece.at_start && p.data() == s.data()};
        t.text.reserve(p.size() * 2);
        byte_level::encode(p, t.text);
        out.push_back(std::move(t));
      }
      return;
    }
  }
}

}  // namespace

PreTokenizerChain parse_pre_tokenizer(const nlohmann::json& j, const std::string& where) {
  PreTokenizerChain chain;
  if (!j.is_null()) parse_into(j, where, "pre_tokenizer", chain);
  return chain;
}

void split_by_matches(std::string_view s, const std::vector<std::pair<size_t, size_t>>& matches,
                      bool invert, SplitBehavior behavior, std::vector<std::string_view>& out) {
  if (s.empty()) return;
  // The reference's find_matches: the whole string as (span, is_match) pieces in order.
  struct Span {
    size_t b, e;
    bool match;
  };
  std::vector<Span> spans;
  spans.reserve(matches.size() * 2 + 1);
  size_t prev = 0;
  for (const auto& [b, e] : matches) {
    if (prev != b) spans.push_back({prev, b, invert});
    spans.push_back({b, e, !invert});
    prev = e;
  }
  if (prev != s.size()) spans.push_back({prev, s.size(), invert});

  std::vector<std::pair<size_t, size_t>> pieces;  // after the behavior, before dropping empties
  pieces.reserve(spans.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Span& sp : spans) pieces.emplace_back(sp.b, sp.e);
      break;
    case SplitBehavior::kRemoved:
      for (const Span& sp : spans)
        if (!sp.match) pieces.emplace_back(sp.b, sp.e);
      break;
    case SplitBehavior::kContiguous: {
      bool previous = false;
      for (const Span& sp : spans) {
        if (sp.match == previous && !pieces.empty()) {
          pieces.back().second = sp.e;
        } else {
          pieces.emplace_back(sp.b, sp.e);
        }
        previous = sp.match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous = false;
      for (const Span& sp : spans) {
        if (sp.match && !previous && !pieces.empty()) {
          pieces.back().second = sp.e;
        } else {
          pieces.emplace_back(sp.b, sp.e);
        }
        previous = sp.match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous = false;
      for (size_t k = spans.size(); k-- > 0;) {
        const Span& sp = spans[k];
        if (sp.match && !previous && !pieces.empty()) {
          pieces.back().first = sp.b;
        } else {
          pieces.emplace_back(sp.b, sp.e);
        }
        previous = sp.match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
  }
  for (const auto& [b, e] : pieces)
    if (e > b) out.push_back(s.substr(b, e - b));
}

void pre_tokenize(const PreTokenizerChain& chain, std::string section, bool at_start,
                  std::vector<PreToken>& out) {
  if (section.empty()) return;
  if (chain.empty()) {
    out.push_back(PreToken{std::move(section), at_start});
    return;
  }
  std::vector<PreToken> cur;
  cur.push_back(PreToken{std::move(section), at_start});
  for (const PreTokenizerStep& step : chain) {
    std::vector<PreToken> next;
    next.reserve(cur.size());
    for (PreToken& p : cur) apply_step(step, std::move(p), next);
    cur = std::move(next);
  }
  for (PreToken& p : cur) out.push_back(std::move(p));
}

}  // namespace loaq
