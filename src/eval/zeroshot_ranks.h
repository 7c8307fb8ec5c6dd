#pragma once
// Zero-shot scoring across MPI ranks: each rank scores a contiguous range of the examples
// (dist::my_range) and every example's scores are gathered in example order on every rank.
#include <vector>

#include "eval/zeroshot.h"

namespace loaq {

// score_task() over this rank's examples, then gathered: the same vector score_task() returns on
// one process.
std::vector<ExampleScore> score_task_ranks(const ModelSource& m, const Tokenizer& tok, const McTask& task,
                                           const ZeroshotOptions& o);

}  // namespace loaq
