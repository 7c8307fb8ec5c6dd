#include "model/prefix_tree.h"

#include <algorithm>

namespace loaq {

std::vector<int64_t> PrefixTree::positions() const {
  std::vector<int64_t> pos(ids.size());
  for (const auto& s : segments)
    for (int64_t i = 0; i < s.len; ++i) pos[size_t(s.row0 + i)] = s.pos0 + i;
  return pos;
}

std::vector<int64_t> PrefixTree::chain(int64_t s) const {
  std::vector<int64_t> c;
  for (int64_t p = s; p >= 0; p = segments[size_t(p)].parent) c.push_back(p);
  std::reverse(c.begin(), c.end());
  return c;
}

namespace {

// Sequences `members` agree on tokens [0, depth) whose rows are mapped already; `parent` holds the
// last of them (-1 at the root). Splits them by their token at `depth` and recurses.
void build(PrefixTree& t, std::span<const std::vector<int32_t>> seqs, std::vector<int64_t> members,
           int64_t depth, int64_t parent, std::vector<std::vector<int64_t>>& rows) {
  std::erase_if(members, [&](int64_t i) { return int64_t(seqs[size_t(i)].size()) <= depth; });
  while (!members.empty()) {
    // The members whose token at `depth` equals the first remaining member's (first-seen order).
    const int32_t tok = seqs[size_t(members[0])][size_t(depth)];
    std::vector<int64_t> group, rest;
    for (const int64_t i : members)
      (seqs[size_t(i)][size_t(depth)] == tok ? group : rest).push_back(i);
    members = std::move(rest);
    // The run they all share: [depth, end).
    const auto& first = seqs[size_t(group[0])];
    int64_t end = depth + 1;
    for (;; ++end) {
      bool shared = end < int64_t(first.size());
      for (size_t g = 1; shared && g < group.size(); ++g) {
        const auto& s = seqs[size_t(group[g])];
        shared = end < int64_t(s.size()) && s[size_t(end)] == first[size_t(end)];
      }
      if (!shared) break;
    }
    const TreeSegment seg{t.rows(), end - depth, depth, parent};
    t.ids.insert(t.ids.end(), first.begin() + depth, first.begin() + end);
    t.segments.push_back(seg);
    for (const int64_t i : group)
      for (int64_t k = 0; k < seg.len; ++k) rows[size_t(i)].push_back(seg.row0 + k);
    build(t, seqs, std::move(group), end, int64_t(t.segments.size()) - 1, rows);
  }
}

}  // namespace

std::vector<std::vector<int64_t>> add_group(PrefixTree& t,
                                            std::span<const std::vector<int32_t>> seqs) {
  std::vector<std::vector<int64_t>> rows(seqs.size());
  std::vector<int64_t> all(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) all[i] = int64_t(i);
  build(t, seqs, std::move(all), 0, -1, rows);
  return rows;
}

}  // namespace loaq
