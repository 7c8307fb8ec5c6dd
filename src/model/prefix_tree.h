#pragma once
// Token sequences that share prefixes, packed so that every shared prefix is one set of rows: a
// forest of segments, each a run of tokens that attends to all tokens of its ancestors and causally
// to its own. Running such a batch gives, for every sequence, exactly the hidden states a plain
// causal forward of that sequence alone gives (tree_forward.h), while a prefix common to several
// sequences (a multiple-choice context, say) is computed once.
#include <cstdint>
#include <span>
#include <vector>

namespace loaq {

struct TreeSegment {
  int64_t row0 = 0, len = 0;  // rows [row0, row0 + len) of the batch
  int64_t pos0 = 0;           // position of its first token = total length of its ancestors
  int64_t parent = -1;        // index of the parent segment, -1 for a root
};

struct PrefixTree {
  std::vector<int32_t> ids;           // token of each row
  std::vector<TreeSegment> segments;  // a parent comes before its children

  int64_t rows() const { return int64_t(ids.size()); }
  // Position of every row (its index within its sequence).
  std::vector<int64_t> positions() const;
  // Segments from the root down to `s` itself (key ranges of a row of segment s, in order).
  std::vector<int64_t> chain(int64_t s) const;
};

// Adds one group of sequences as a radix tree: sequences that agree on their first k tokens share
// the rows of those k tokens (a maximal run shared by the same sequences is one segment). Returns,
// per sequence, the row of each of its tokens (rows of different groups never overlap). Empty
// sequences get no rows.
std::vector<std::vector<int64_t>> add_group(PrefixTree& t,
                                            std::span<const std::vector<int32_t>> seqs);

}  // namespace loaq
