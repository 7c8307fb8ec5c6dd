#pragma once
// The token strings and ids of a tokenizer vocabulary. Lookups by string_view allocate nothing:
// the strings live in one arena and an open-addressing table indexes them (the BPE inner loop does
// one lookup per character, so this is on the hot path).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loaq {

class TokenVocab {
 public:
  // Adds `token` with `id` (id >= 0). Returns false, changing nothing, when the token is present.
  bool insert(std::string_view token, int32_t id);
  // The id of `token`, or -1.
  int32_t find(std::string_view token) const;
  // The token of `id` (the first inserted with that id), or nullopt when no token has it. The view
  // is valid until the next insert.
  std::optional<std::string_view> token(int32_t id) const;
  // Number of distinct tokens.
  size_t size() const { return n_; }
  // Largest id, or -1 when empty.
  int32_t max_id() const { return max_id_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    int32_t id = -1;  // -1: empty slot
    uint32_t offset = 0, length = 0;
  };
  std::string_view at(uint32_t offset, uint32_t length) const {
    return {arena_.data() + offset, length};
  }
  void grow();

  std::string arena_;
  std::vector<Slot> slots_;  // size is a power of two, at most half full
  std::vector<Slot> by_id_;  // by_id_[id].id == -1: no token has this id
  size_t n_ = 0;
  int32_t max_id_ = -1;
};

}  // namespace loaq
