#pragma once
// Evaluation texts built exactly as the GPTQ protocol builds them from the Hugging Face datasets
// (see shared/golden/README.md), from local files.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loaq {

// WikiText-2 raw test: rows rebuilt from wiki.test.raw (split on "\n", final empty piece dropped,
// row = line + "\n" if line.strip() else ""), joined with "\n\n".
std::string wikitext2_text(const std::string& raw_path);
// C4 validation: " ".join(doc["text"] for every document of the jsonl file).
std::string c4_text(const std::string& jsonl_path);
// Penn Treebank (ptb_text_only): " ".join(line.strip() for every line).
std::string ptb_text(const std::string& txt_path);
// A user's file: a .jsonl is joined like C4 (its "text" fields), anything else is read verbatim.
std::string file_text(const std::string& path);

// The C4 train file is split for hyper-parameter tuning: calibration source "c4-head" draws from
// its first kC4HeadDocs documents, evaluation set "c4-heldout" is the rest joined with " " (windows
// that no calibration window of "c4-head" can overlap). Plain "c4" calibration uses all of them.
inline constexpr int64_t kC4HeadDocs = 937;  // 90 % of the 1041 documents
std::string c4_train_path(const std::string& data_dir);

// A named evaluation set resolved against the assets folder, or a file path.
struct EvalDataset {
  std::string name;       // "wikitext2", "c4", "ptb" or the path
  std::string path;       // the file read
  std::string text;       // the string that is tokenized
  // GPTQ caps C4 to the first 256·seqlen tokens; nullopt: no cap.
  std::optional<int64_t> windows_cap;
};

// `name` is wikitext2, c4, ptb, c4-heldout (looked up under <data_dir>/...) or a path to a
// text/jsonl file.
// Errors name the missing file.
EvalDataset load_eval_dataset(const std::string& name, const std::string& data_dir);

// The documents of a jsonl file (their "text" fields), in order; errors name the file and line.
std::vector<std::string> read_jsonl_texts(const std::string& path);

// Python's str.isspace() over a whole string, str.strip() and str.rstrip() (Unicode whitespace),
// on UTF-8 text.
bool py_blank(std::string_view s);
std::string_view py_strip(std::string_view s);
std::string_view py_rstrip(std::string_view s);

// Reads a whole file; errors name it.
std::string read_file(const std::string& path);

}  // namespace loaq
