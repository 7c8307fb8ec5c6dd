#include "text/hf_bpe.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/utf8.h"

namespace loaq {

namespace {

constexpr uint64_t kEmptyKey = ~uint64_t(0);
// Words up to this many bytes are cached, up to kCacheCapacity of them (the reference's limits).
constexpr size_t kCacheMaxWord = 256;
constexpr size_t kCacheCapacity = 10000;
// Ids beyond this are rejected: the id -> token table is dense.
constexpr int64_t kMaxId = int64_t(1) << 26;

uint64_t pack(int32_t a, int32_t b) {
  return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
}

// splitmix64's finalizer: every bit of both ids reaches the low bits used as the slot.
size_t slot_of(uint64_t key, size_t mask) {
  key ^= key >> 30;
  key *= 0xBF58476D1CE4E5B9ull;
  key ^= key >> 27;
  key *= 0x94D049BB133111EBull;
  key ^= key >> 31;
  return size_t(key) & mask;
}

}  // namespace

void BpeModel::PairTable::insert(uint64_t key, Merge m) {
  // Sized by the constructor to stay at most half full.
  const size_t mask = keys.size() - 1;
  size_t i = slot_of(key, mask);
  while (keys[i] != kEmptyKey && keys[i] != key) i = (i + 1) & mask;
  keys[i] = key;
  values[i] = m;  // a repeated pair keeps its last rank, as the reference's hash map does
}

const BpeModel::Merge* BpeModel::PairTable::find(uint64_t key) const {
  const size_t mask = keys.size() - 1;
  for (size_t i = slot_of(key, mask); keys[i] != kEmptyKey; i = (i + 1) & mask)
    if (keys[i] == key) return &values[i];
  return nullptr;
}

BpeModel::BpeModel(TokenVocab vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options, const std::string& where)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  if (vocab_.size() == 0) fail("{}: the BPE vocabulary is empty", where);
  if (options_.unk_token) {
    unk_id_ = vocab_.find(*options_.unk_token);
    if (unk_id_ < 0)
      fail("{}: unk_token '{}' is not in the vocabulary", where, *options_.unk_token);
  }
  for (int b = 0; b < 256; ++b) byte_ids_[b] = vocab_.find(fmt::format("<0x{:02X}>", b));

  size_t capacity = 64;
  while (capacity < merges.size() * 2 + 2) capacity *= 2;
  merges_.keys.assign(capacity, kEmptyKey);
  merges_.values.resize(capacity);
  const size_t prefix_len =
      options_.continuing_subword_prefix ? options_.continuing_subword_prefix->size() : 0;
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const int32_t ia = vocab_.find(a), ib = vocab_.find(b);
    if (ia < 0)
      fail("{}: model.merges[{}] ('{} {}') refers to '{}', which is not in the vocabulary", where,
           rank, a, b, a);
    if (ib < 0)
      fail("{}: model.merges[{}] ('{} {}') refers to '{}', which is not in the vocabulary", where,
           rank, a, b, b);
    // The merged token: a + b without b's continuing-subword prefix.
    joined.assign(a);
    joined.append(std::string_view(b).substr(std::min(prefix_len, b.size())));
    const int32_t id = vocab_.find(joined);
    if (id < 0)
      fail("{}: model.merges[{}] ('{} {}') makes '{}', which is not in the vocabulary", where, rank,
           a, b, joined);
    merges_.insert(pack(ia, ib), Merge{int32_t(rank), id});
  }
}

BpeModel BpeModel::from_json(const nlohmann::json& m, const std::string& where) {
  if (!m.is_object()) fail("{}: \"model\" is not an object", where);
  auto str_opt = [&](const char* key) -> std::optional<std::string> {
    const auto it = m.find(key);
    if (it == m.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) fail("{}: model.{} is not a string", where, key);
    return it->get<std::string>();
  };
  auto bool_opt = [&](const char* key) {
    const auto it = m.find(key);
    if (it == m.end() || it->is_null()) return false;
    if (!it->is_boolean()) fail("{}: model.{} is not a boolean", where, key);
    return it->get<bool>();
  };
  if (const auto it = m.find("dropout"); it != m.end() && !it->is_null()) {
    if (!it->is_number()) fail("{}: model.dropout is not a number", where);
    const double p = it->get<double>();
    if (p < 0 || p > 1) fail("{}: model.dropout {} is not in [0, 1]", where, p);
    if (p > 0)
      fail("{}: model.dropout {} is not supported (BPE dropout makes tokenization random)", where,
           p);
  }
  BpeOptions o;
  o.unk_token = str_opt("unk_token");
  o.continuing_subword_prefix = str_opt("continuing_subword_prefix");
  o.end_of_word_suffix = str_opt("end_of_word_suffix");
  o.fuse_unk = bool_opt("fuse_unk");
  o.byte_fallback = bool_opt("byte_fallback");
  o.ignore_merges = bool_opt("ignore_merges");

  const auto vit = m.find("vocab");
  if (vit == m.end() || !vit->is_object())
    fail("{}: model.vocab is missing or not an object of token: id", where);
  TokenVocab vocab;
  for (auto it = vit->begin(); it != vit->end(); ++it) {
    if (!it.value().is_number_integer())
      fail("{}: model.vocab['{}'] is not an integer id", where, it.key());
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= kMaxId)
      fail("{}: model.vocab['{}'] has id {}, out of range [0, {})", where, it.key(), id, kMaxId);
    vocab.insert(it.key(), int32_t(id));
  }

  const auto mit = m.find("merges");
  if (mit == m.end() || !mit->is_array())
    fail("{}: model.merges is missing or not an array", where);
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(mit->size());
  size_t i = 0;
  for (const auto& e : *mit) {
    if (e.is_string()) {
      // Legacy "a b": exactly one space separates the two parts.
      const auto& s = e.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        fail("{}: model.merges[{}] '{}' is not two tokens separated by one space", where, i, s);
      merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    } else {
      fail("{}: model.merges[{}] is neither \"a b\" nor [\"a\", \"b\"]: {}", where, i,
           e.dump().substr(0, 80));
    }
    ++i;
  }
  return BpeModel(std::move(vocab), merges, std::move(o), where);
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const int32_t id = vocab_.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (word.size() > kCacheMaxWord) {
    merge_word(word, out);
    return;
  }
  {
    std::lock_guard lock(cache_->mutex);
    const auto it = cache_->words.find(word);
    if (it != cache_->words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  merge_word(word, out);
  std::lock_guard lock(cache_->mutex);
  if (cache_->words.size() < kCacheCapacity)
    cache_->words.emplace(std::string(word), std::vector<int32_t>(out.begin() + first, out.end()));
}

void BpeModel::merge_word(std::string_view w, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;  // linked list over live symbols; -1 at the ends
    bool alive;
  };
  thread_local std::vector<Symbol> sym;
  sym.clear();
  auto add = [&](int32_t id) {
    const auto n = int32_t(sym.size());
    sym.push_back(Symbol{id, n - 1, n + 1, true});
  };

  // 1. Characters -> initial symbols (with unk / byte fallback).
  const auto& prefix = options_.continuing_subword_prefix;
  const auto& suffix = options_.end_of_word_suffix;
  std::string buf;
  int32_t pending_unk = -1;  // fused unknown run waiting to be added
  for (size_t i = 0; i < w.size();) {
    bool valid = false;
    const size_t n = utf8::char_length(w, i, &valid);
    std::string_view s = w.substr(i, n);
    const bool is_first = i == 0, is_last = i + n == w.size();
    if ((!is_first && prefix) || (is_last && suffix)) {
      buf.clear();
      if (!is_first && prefix) buf.append(*prefix);
      buf.append(s);
      if (is_last && suffix) buf.append(*suffix);
      s = buf;
    }
    i += n;
    const int32_t id = valid ? vocab_.find(s) : -1;
    if (id >= 0) {
      if (pending_unk >= 0) add(pending_unk), pending_unk = -1;
      add(id);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (const char c : s) all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all) {
        // The reference adds the byte tokens without flushing a pending unk first.
        for (const char c : s) add(byte_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (unk_id_ >= 0) {
      if (pending_unk >= 0 && !options_.fuse_unk) add(pending_unk);
      pending_unk = unk_id_;
    }
  }
  if (pending_unk >= 0) add(pending_unk);
  if (sym.empty()) return;
  sym.back().next = -1;

  // 2. Merges, lowest rank first, then leftmost (the reference's queue order).
  struct Candidate {
    int32_t rank, pos, new_id;
  };
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  thread_local std::vector<Candidate> queue;
  queue.clear();
  for (size_t p = 0; p + 1 < sym.size(); ++p)
    if (const Merge* m = merges_.find(pack(sym[p].id, sym[p + 1].id)))
      queue.push_back(Candidate{m->rank, int32_t(p), m->new_id});
  std::make_heap(queue.begin(), queue.end(), later);
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), later);
    const Candidate top = queue.back();
    queue.pop_back();
    Symbol& left = sym[size_t(top.pos)];
    if (!left.alive || left.next < 0) continue;
    const int32_t right_pos = left.next;
    Symbol& right = sym[size_t(right_pos)];
    // Stale entry: the pair at this position is no longer the one queued.
    const Merge* m = merges_.find(pack(left.id, right.id));
    if (!m || m->new_id != top.new_id) continue;
    left.id = top.new_id;
    left.next = right.next;
    right.alive = false;
    if (right.next >= 0) sym[size_t(right.next)].prev = top.pos;
    if (left.prev >= 0) {
      if (const Merge* pm = merges_.find(pack(sym[size_t(left.prev)].id, left.id))) {
        queue.push_back(Candidate{pm->rank, left.prev, pm->new_id});
        std::push_heap(queue.begin(), queue.end(), later);
      }
    }
    if (left.next >= 0) {
      if (const Merge* nm = merges_.find(pack(left.id, sym[size_t(left.next)].id))) {
        queue.push_back(Candidate{nm->rank, top.pos, nm->new_id});
        std::push_heap(queue.begin(), queue.end(), later);
      }
    }
  }
  for (const Symbol& s : sym)
    if (s.alive) out.push_back(s.id);
  // The scratch buffers are reused across words; a huge word (a whole text for files without a
  // pre-tokenizer) does not get to keep its memory.
  constexpr size_t kKeep = size_t(1) << 16;
  if (sym.capacity() > kKeep) std::vector<Symbol>().swap(sym);
  if (queue.capacity() > kKeep) std::vector<Candidate>().swap(queue);
}

}  // namespace loaq
