#include "text/vocab.h"

#include <functional>

namespace loaq {

namespace {

uint64_t hash_of(std::string_view s) {
  return std::hash<std::string_view>{}(s);
}

}  // namespace

void TokenVocab::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    size_t i = s.hash & mask;
    while (slots_[i].id >= 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

bool TokenVocab::insert(std::string_view token, int32_t id) {
  if ((n_ + 1) * 2 > slots_.size()) grow();
  const uint64_t h = hash_of(token);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  for (; slots_[i].id >= 0; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.hash == h && at(s.offset, s.length) == token) return false;
  }
  Slot slot{h, id, uint32_t(arena_.size()), uint32_t(token.size())};
  arena_.append(token);
  slots_[i] = slot;
  ++n_;
  if (size_t(id) >= by_id_.size()) by_id_.resize(size_t(id) + 1);
  if (by_id_[size_t(id)].id < 0) by_id_[size_t(id)] = slot;
  if (id > max_id_) max_id_ = id;
  return true;
}

int32_t TokenVocab::find(std::string_view token) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash_of(token);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask; slots_[i].id >= 0; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.hash == h && at(s.offset, s.length) == token) return s.id;
  }
  return -1;
}

std::optional<std::string_view> TokenVocab::token(int32_t id) const {
  if (id < 0 || size_t(id) >= by_id_.size() || by_id_[size_t(id)].id < 0) return std::nullopt;
  const Slot& s = by_id_[size_t(id)];
  return at(s.offset, s.length);
}

}  // namespace loaq
