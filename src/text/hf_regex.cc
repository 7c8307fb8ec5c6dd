#include "text/hf_regex.h"

#include <cctype>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/utf8.h"

namespace loaq {

namespace {

constexpr std::string_view kSpaceProp = "\\p{White_Space}";
constexpr std::string_view kNotSpaceProp = "\\P{White_Space}";
constexpr std::string_view kWordItems = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";
constexpr std::string_view kHexItems = "0-9a-fA-F";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

// Per-thread match state shared by every pattern: match data with one ovector pair (only the whole
// match is read) and a JIT stack large enough for long repeats.
struct MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  MatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
    if (!data || !context || !jit_stack) throw std::bad_alloc();
    pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

struct HfRegex::Code {
  pcre2_code* re = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(re); }
};

std::string onig_to_pcre2(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 32);
  bool in_class = false;
  bool class_start = false;  // just after '[' or '[^' (a ']' there is literal)
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      ++i;
      class_start = false;
      switch (e) {
        case 's':
          out.append(kSpaceProp);
          continue;
        case 'S':
          out.append(kNotSpaceProp);
          continue;
        case 'w':
          if (in_class) {
            out.append(kWordItems);
          } else {
            out.append("[").append(kWordItems).append("]");
          }
          continue;
        case 'W':
          if (in_class) {
            out.append("\\W");  // no way to put a negated union inside a class; PCRE2's \W
          } else {
            out.append("[^").append(kWordItems).append("]");
          }
          continue;
        case 'h':
          if (in_class) {
            out.append(kHexItems);
          } else {
            out.append("[").append(kHexItems).append("]");
          }
          continue;
        case 'H':
          if (in_class) {
            out.append("\\H");
          } else {
            out.append("[^").append(kHexItems).append("]");
          }
          continue;
        case 'u': {
          bool hex = i + 4 < p.size();
          for (size_t k = 1; hex && k <= 4; ++k)
            hex = std::isxdigit(static_cast<unsigned char>(p[i + k])) != 0;
          if (hex) {
            out.append("\\x{").append(p.substr(i + 1, 4)).append("}");
            i += 4;
          } else {
            out.append("\\u");
          }
          continue;
        }
        default:
          out.push_back('\\');
          out.push_back(e);
          continue;
      }
    }
    if (!in_class && c == '(' && i + 1 < p.size() && p[i + 1] == '?') {
      // Option group (?imx-imx) or (?imx-imx:...): Ruby's m is PCRE2's s (dot matches newline).
      size_t k = i + 2;
      while (k < p.size() && (p[k] == 'i' || p[k] == 'm' || p[k] == 'x' || p[k] == '-')) ++k;
      if (k > i + 2 && k < p.size() && (p[k] == ':' || p[k] == ')')) {
        out.append("(?");
        for (size_t f = i + 2; f < k; ++f) out.push_back(p[f] == 'm' ? 's' : p[f]);
        i = k - 1;
        continue;
      }
    }
    if (in_class) {
      if (c == ']' && !class_start) {
        in_class = false;
      } else if (c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
        // POSIX class [:alpha:] inside a bracket: copy through its closing ":]".
        const size_t close = p.find(":]", i + 2);
        if (close != std::string_view::npos) {
          out.append(p.substr(i, close + 2 - i));
          i = close + 1;
          class_start = false;
          continue;
        }
      }
      class_start = class_start && c == '^';
    } else if (c == '[') {
      in_class = true;
      class_start = true;
      out.push_back(c);
      if (i + 1 < p.size() && p[i + 1] == '^') {
        out.push_back('^');
        ++i;
      }
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::shared_ptr<const HfRegex::Code> HfRegex::compile(std::string_view pattern, uint32_t extra,
                                                      const std::string& where,
                                                      std::string_view shown) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  // PCRE2_UCP (Unicode \p, \b, POSIX classes) is meaningless for, and refused with, a literal.
  uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | extra;
  if (!(extra & PCRE2_LITERAL)) options |= PCRE2_UCP;
  pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                 options, &err, &offset, nullptr);
  if (!re)
    fail("{}: cannot compile regex '{}': {} (at offset {})", where, shown, pcre2_message(err),
         offset);
  auto code = std::make_shared<HfRegex::Code>();
  code->re = re;
  code->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
  return code;
}

HfRegex HfRegex::pattern(std::string_view pattern, const std::string& where) {
  const std::string translated = onig_to_pcre2(pattern);
  return HfRegex(compile(translated, PCRE2_MULTILINE, where, pattern), std::string(pattern));
}

HfRegex HfRegex::literal(std::string_view text, const std::string& where) {
  return HfRegex(compile(text, PCRE2_LITERAL, where, text), std::string(text));
}

std::vector<std::pair<size_t, size_t>> HfRegex::find_all(std::string_view s) const {
  std::vector<std::pair<size_t, size_t>> out;
  if (s.empty()) return out;
  MatchState& st = match_state();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  PCRE2_SIZE start = 0;
  size_t last_end = std::string_view::npos;
  while (start <= s.size()) {
    const int rc =
        code_->jit ? pcre2_jit_match(code_->re, subject, s.size(), start, 0, st.data, st.context)
                   : pcre2_match(code_->re, subject, s.size(), start, 0, st.data, st.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("regex '{}': matching failed: {}", source_, pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
    const size_t b = ov[0], e = ov[1];
    if (b == e && b == last_end) {
      // Oniguruma's find_iter skips an empty match right after the previous match: step one
      // character (an ill-formed subpart counts as one) and search again.
      if (b >= s.size()) break;
      bool valid = false;
      const size_t step = utf8::char_length(s, b, &valid);
      start = b + step;
      continue;
    }
    out.emplace_back(b, e);
    last_end = e;
    start = e;
  }
  return out;
}

HfRegex parse_hf_pattern(const nlohmann::json& j, const std::string& where,
                         const std::string& path) {
  const auto it = j.find("pattern");
  if (it != j.end() && it->is_object() && it->size() == 1) {
    const std::string ctx = fmt::format("{}: {}.pattern", where, path);
    if (const auto s = it->find("String"); s != it->end() && s->is_string())
      return HfRegex::literal(s->get<std::string>(), ctx);
    if (const auto r = it->find("Regex"); r != it->end() && r->is_string())
      return HfRegex::pattern(r->get<std::string>(), ctx);
  }
  fail("{}: {}.pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}, not {}", where, path,
       it == j.end() ? std::string("missing") : it->dump());
}

std::string replace_all(const HfRegex& pattern, std::string_view content, std::string_view s) {
  const auto matches = pattern.find_all(s);
  if (matches.empty()) return std::string(s);
  std::string out;
  out.reserve(s.size() + matches.size() * content.size());
  size_t prev = 0;
  for (const auto& [b, e] : matches) {
    out.append(s.substr(prev, b - prev));
    out.append(content);
    prev = e;
  }
  out.append(s.substr(prev));
  return out;
}

}  // namespace loaq
