#include "text/hf_added_tokens.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/unicode_props.h"
#include "text/utf8.h"

namespace loaq {

namespace {

// The first / last character of s, or nullopt when s is empty or it is ill-formed.
std::optional<char32_t> first_char(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool valid = false;
  const size_t n = utf8::char_length(s, 0, &valid);
  if (!valid) return std::nullopt;
  return utf8::decode(s, 0, n);
}

std::optional<char32_t> last_char(std::string_view s) {
  if (s.empty()) return std::nullopt;
  size_t k = s.size() - 1;
  while (k > 0 && s.size() - k < 4 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  bool valid = false;
  const size_t n = utf8::char_length(s, k, &valid);
  if (!valid || k + n != s.size()) return std::nullopt;
  return utf8::decode(s, k, n);
}

// Start of the run of White_Space characters that ends s (s.size() when there is none).
size_t trailing_space_start(std::string_view s) {
  size_t start = s.size();
  size_t i = 0;
  bool in_run = false;
  while (i < s.size()) {
    bool valid = false;
    const size_t n = utf8::char_length(s, i, &valid);
    const bool space = valid && unicode::is_white_space(utf8::decode(s, i, n));
    if (space && !in_run) start = i;
    in_run = space;
    i += n;
  }
  return in_run ? start : s.size();
}

// Length of the run of White_Space characters that starts s.
size_t leading_space_length(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    bool valid = false;
    const size_t n = utf8::char_length(s, i, &valid);
    if (!valid || !unicode::is_white_space(utf8::decode(s, i, n))) break;
    i += n;
  }
  return i;
}

}  // namespace

void AddedVocabulary::Trie::add(std::string_view s, int32_t token) {
  int32_t node = 0;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    int32_t next = -1;
    for (const auto& [k, v] : nodes[size_t(node)].children)
      if (k == c) next = v;
    if (next < 0) {
      next = int32_t(nodes.size());
      nodes[size_t(node)].children.emplace_back(c, next);
      nodes.emplace_back();
    }
    node = next;
  }
  // The first token with a given string wins, like the reference's id map.
  if (nodes[size_t(node)].token < 0) nodes[size_t(node)].token = token;
}

int32_t AddedVocabulary::Trie::longest(std::string_view s, size_t i, size_t* len) const {
  int32_t node = 0, best = -1;
  for (size_t k = i; k < s.size(); ++k) {
    const auto c = static_cast<unsigned char>(s[k]);
    int32_t next = -1;
    for (const auto& [key, v] : nodes[size_t(node)].children)
      if (key == c) {
        next = v;
        break;
      }
    if (next < 0) break;
    node = next;
    if (nodes[size_t(node)].token >= 0) {
      best = nodes[size_t(node)].token;
      *len = k + 1 - i;
    }
  }
  return best;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens,
                                 const NormalizerChain& normalizer) {
  for (AddedToken& t : tokens) {
    if (t.content.empty()) continue;
    tokens_.push_back(std::move(t));
  }
  for (size_t i = 0; i < tokens_.size(); ++i) {
    AddedToken& t = tokens_[i];
    by_id_.emplace(t.id, i);
    if (t.normalized) {
      t.form = normalize(normalizer, t.content);
      if (!t.form.empty()) normalized_.add(t.form, int32_t(i));
    } else {
      t.form = t.content;
      raw_.add(t.content, int32_t(i));
    }
  }
}

std::vector<AddedToken> AddedVocabulary::parse(const nlohmann::json& j,
                                               const TokenVocab& model_vocab,
                                               const std::string& where) {
  std::vector<AddedToken> out;
  if (j.is_null()) return out;
  if (!j.is_array()) fail("{}: added_tokens is not an array", where);
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& e = j[i];
    const auto ctx = [&] { return fmt::format("{}: added_tokens[{}]", where, i); };
    if (!e.is_object()) fail("{} is not an object", ctx());
    AddedToken t;
    const auto content = e.find("content");
    if (content == e.end() || !content->is_string()) fail("{} has no string \"content\"", ctx());
    t.content = content->get<std::string>();
    const auto flag = [&](const char* key, bool fallback) {
      const auto it = e.find(key);
      if (it == e.end() || it->is_null()) return fallback;
      if (!it->is_boolean()) fail("{}.{} is not a boolean", ctx(), key);
      return it->get<bool>();
    };
    t.special = flag("special", false);
    t.single_word = flag("single_word", false);
    t.lstrip = flag("lstrip", false);
    t.rstrip = flag("rstrip", false);
    t.normalized = flag("normalized", !t.special);
    t.id = model_vocab.find(t.content);
    if (t.id < 0) {
      const auto id = e.find("id");
      if (id == e.end() || !id->is_number_integer() || id->get<int64_t>() < 0 ||
          id->get<int64_t>() >= (int64_t(1) << 26))
        fail("{} ('{}') has no valid \"id\"", ctx(), t.content);
      t.id = int32_t(id->get<int64_t>());
    }
    out.push_back(std::move(t));
  }
  return out;
}

void AddedVocabulary::split(std::string_view s, bool normalized,
                            std::vector<AddedSection>& out) const {
  if (s.empty()) return;
  const Trie& trie = normalized ? normalized_ : raw_;
  size_t start_offset = 0;  // end of the last emitted section
  if (trie.nodes[0].children.empty()) {
    out.push_back(AddedSection{0, s.size(), -1});
    return;
  }
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    const int32_t k = trie.longest(s, i, &len);
    if (k < 0) {
      ++i;
      continue;
    }
    const AddedToken& t = tokens_[size_t(k)];
    size_t start = i, stop = i + len;
    i = stop;  // the search resumes after the match, even when it is ignored
    if (t.single_word) {
      const auto before = last_char(s.substr(0, start));
      const auto after = first_char(s.substr(stop));
      if ((before && unicode::is_word_char(*before)) || (after && unicode::is_word_char(*after)))
        continue;
    }
    if (t.lstrip) start = std::max(trailing_space_start(s.substr(0, start)), start_offset);
    if (t.rstrip) {
      stop += leading_space_length(s.substr(stop));
      i = stop;  // (the reference would let a later match overlap the swallowed spaces)
    }
    if (start_offset < start) out.push_back(AddedSection{start_offset, start, -1});
    out.push_back(AddedSection{start, stop, t.id});
    start_offset = stop;
  }
  if (start_offset < s.size()) out.push_back(AddedSection{start_offset, s.size(), -1});
}

const AddedToken* AddedVocabulary::find(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

int32_t AddedVocabulary::find(std::string_view content) const {
  for (const AddedToken& t : tokens_)
    if (t.content == content) return t.id;
  return -1;
}

}  // namespace loaq
