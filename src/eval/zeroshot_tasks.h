#pragma once
// The five zero-shot multiple-choice tasks of the paper's "Acc" column, read from the files under
// <data>/ (shared/data) and turned into log-likelihood requests exactly as lm-evaluation-harness
// v0.4 builds them (zero-shot, no description; shared/golden/zeroshot/README.md):
//   arc_easy, arc_challenge  context "Question: " + stem + "\nAnswer:", continuations " " + choice
//                            text, label = index of answerKey among the choice labels (arc/*.yaml);
//   piqa                     context "Question: " + goal + "\nAnswer:", continuations " " + sol1,
//                            " " + sol2, label from valid-labels.lst (piqa/piqa.yaml);
//   hellaswag                llama.cpp's 6-line blocks (already preprocessed): context = line 1,
//                            label = line 2, continuations " " + lines 3-6
//                            (hellaswag/hellaswag.yaml);
//   winogrande               partial scoring: i = sentence.index("_"), context of choice k =
//                            sentence[:i] + option_k, continuation " " + sentence[i+1:].strip(),
//                            label = answer - 1; acc only (winogrande/default.yaml).
#include <cstdint>
#include <string>
#include <vector>

namespace loaq {

// One loglikelihood request: log P(continuation | context).
struct McRequest {
  std::string context, continuation;
};

struct McExample {
  int64_t index = 0;  // 0-based position of the record in the data file
  int64_t line = 0;   // 1-based line of the data file where the record starts
  int64_t label = 0;  // gold choice
  // The harness's doc_to_choice strings (no target delimiter): acc_norm divides a choice's
  // log-likelihood by its length in characters (code points).
  std::vector<std::string> choices;
  std::vector<McRequest> requests;  // one per choice
};

struct McTask {
  std::string name;          // arc_easy, arc_challenge, piqa, hellaswag, winogrande
  std::string file;          // the data file read
  bool has_acc_norm = true;  // false for winogrande (the harness reports acc only)
  std::vector<McExample> examples;
  int64_t skipped = 0;                     // malformed records skipped (skip_bad)
  std::vector<std::string> skip_messages;  // why, for the first few of them
};

struct TaskLoadOptions {
  int64_t limit = 0;      // only the first `limit` records of the file (0: all)
  bool skip_bad = false;  // skip malformed records (counted) instead of failing
};

// "arc_easy", "arc_challenge", "piqa", "hellaswag", "winogrande".
const std::vector<std::string>& zeroshot_task_names();

// Reads task `name` from `data_dir` (arc/ARC-{Easy,Challenge}-Test.jsonl, piqa/valid.jsonl +
// valid-labels.lst, hellaswag/hellaswag_val_full.txt, winogrande/dev.jsonl). A malformed record
// (invalid JSON, a missing or mistyped field, a label out of range, a WinoGrande sentence without
// "_", an incomplete HellaSwag block) throws loaq::Error naming the file and line, unless
// `skip_bad`, which skips and counts it. A missing file or an unknown task is always an error.
McTask load_zeroshot_task(const std::string& name, const std::string& data_dir,
                          const TaskLoadOptions& o = {});

}  // namespace loaq
