#include "eval/zeroshot_tasks.h"

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/error.h"
#include "io/json_file.h"
#include "text/datasets.h"

namespace loaq {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A record-level problem: skippable with skip_bad (other errors are not).
struct BadRecord : Error {
  using Error::Error;
};

template <class... Args>
[[noreturn]] void bad(fmt::format_string<Args...> f, Args&&... args) {
  throw BadRecord(fmt::format(f, std::forward<Args>(args)...));
}

// The lines of a file as Python's str.split("\n") gives them, the empty piece after a final "\n"
// dropped.
std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) nl = s.size();
    lines.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

const std::string& string_field(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) bad("{}: missing field '{}'", where, key);
  if (!it->is_string()) bad("{}: field '{}' is not a string (found {})", where, key, it->dump());
  return it->get_ref<const std::string&>();
}

json parse_record(std::string_view line, const std::string& where) {
  json j;
  try {
    j = parse_json(line, where);
  } catch (const Error& e) {
    bad("{}", e.what());
  }
  if (!j.is_object()) bad("{}: record is not a JSON object", where);
  return j;
}

// " " + s: the harness's target_delimiter in front of a choice.
std::string delimited(std::string_view s) {
  std::string r(1, ' ');
  r.append(s);
  return r;
}

// Context "Question: {q}\nAnswer:" with continuations " " + choice (ARC, PIQA).
void question_answer(McExample& ex, const std::string& question) {
  const std::string ctx = fmt::format("Question: {}\nAnswer:", question);
  for (const auto& c : ex.choices) ex.requests.push_back({ctx, delimited(c)});
}

void check_label(const McExample& ex, const std::string& where) {
  if (ex.label < 0 || ex.label >= int64_t(ex.choices.size()))
    bad("{}: label {} is out of range for {} choices", where, ex.label, ex.choices.size());
}

// ARC (AI2 jsonl): {"question": {"stem", "choices": [{"text", "label"}]}, "answerKey"}.
McExample arc_record(const json& j, const std::string& where) {
  McExample ex;
  const auto q = j.find("question");
  if (q == j.end() || !q->is_object()) bad("{}: missing object field 'question'", where);
  const std::string& stem = string_field(*q, "stem", where + " question");
  const auto cs = q->find("choices");
  if (cs == q->end() || !cs->is_array() || cs->size() < 2)
    bad("{}: field 'question.choices' must be an array of at least 2 choices", where);
  const std::string& key = string_field(j, "answerKey", where);
  ex.label = -1;
  for (size_t i = 0; i < cs->size(); ++i) {
    const json& c = (*cs)[i];
    if (!c.is_object()) bad("{}: choice {} is not an object", where, i);
    const std::string w = fmt::format("{} choice {}", where, i);
    ex.choices.push_back(string_field(c, "text", w));
    if (string_field(c, "label", w) == key && ex.label < 0) ex.label = int64_t(i);
  }
  if (ex.label < 0) bad("{}: answerKey '{}' is not one of the choice labels", where, key);
  question_answer(ex, stem);
  return ex;
}

// PIQA: {"goal", "sol1", "sol2"}, label from the labels file (one 0/1 per line).
McExample piqa_record(const json& j, const std::string& where, std::string_view label_line,
                      const std::string& label_where) {
  McExample ex;
  const std::string& goal = string_field(j, "goal", where);
  ex.choices = {string_field(j, "sol1", where), string_field(j, "sol2", where)};
  const std::string_view l = py_strip(label_line);
  if (l != "0" && l != "1") bad("{}: label '{}' is not 0 or 1", label_where, label_line);
  ex.label = l == "1" ? 1 : 0;
  question_answer(ex, goal);
  return ex;
}

// WinoGrande: {"sentence" (one "_"), "option1", "option2", "answer": "1" | "2"}.
McExample winogrande_record(const json& j, const std::string& where) {
  McExample ex;
  const std::string& s = string_field(j, "sentence", where);
  const size_t i = s.find('_');
  if (i == std::string::npos) bad("{}: field 'sentence' has no '_'", where);
  const auto a = j.find("answer");
  if (a == j.end() || a->is_null()) bad("{}: missing field 'answer'", where);
  std::string ans = a->is_string()           ? a->get<std::string>()
                    : a->is_number_integer() ? a->dump()
                                             : "";
  if (ans != "1" && ans != "2") bad("{}: answer {} is not 1 or 2", where, a->dump());
  ex.label = ans == "1" ? 0 : 1;
  const std::string cont = delimited(py_strip(std::string_view(s).substr(i + 1)));
  for (const char* key : {"option1", "option2"}) {
    ex.choices.push_back(s.substr(0, i) + string_field(j, key, where));
    ex.requests.push_back({ex.choices.back(), cont});
  }
  return ex;
}

struct Reader {
  McTask& task;
  const TaskLoadOptions& o;
  int64_t n_records = 0;

  bool full() const { return o.limit > 0 && n_records >= o.limit; }
  // Parses one record with `parse`, keeping it or (skip_bad) counting it as skipped.
  void add(int64_t line, const std::function<McExample()>& parse) {
    const int64_t index = n_records++;
    try {
      McExample ex = parse();
      ex.index = index;
      ex.line = line;
      task.examples.push_back(std::move(ex));
    } catch (const BadRecord& e) {
      if (!o.skip_bad) throw;
      ++task.skipped;
      if (task.skip_messages.size() < 5) task.skip_messages.emplace_back(e.what());
    }
  }
};

void read_jsonl_task(Reader& r,
                     const std::function<McExample(const json&, const std::string&)>& rec) {
  const std::string text = read_file(r.task.file);
  const auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size() && !r.full(); ++i) {
    if (py_blank(lines[i])) continue;
    const std::string where = fmt::format("{}:{}", r.task.file, i + 1);
    r.add(int64_t(i + 1), [&] {
      McExample ex = rec(parse_record(lines[i], where), where);
      check_label(ex, where);
      return ex;
    });
  }
}

void read_piqa(Reader& r, const std::string& labels_file) {
  const std::string text = read_file(r.task.file), labels = read_file(labels_file);
  const auto lines = split_lines(text), label_lines = split_lines(labels);
  size_t n_rec = 0;
  for (const auto& l : lines) n_rec += py_blank(l) ? 0 : 1;
  if (label_lines.size() != n_rec)
    fail("{}: {} labels for the {} records of {}", labels_file, label_lines.size(), n_rec,
         r.task.file);
  size_t k = 0;  // record number = label line
  for (size_t i = 0; i < lines.size() && !r.full(); ++i) {
    if (py_blank(lines[i])) continue;
    const std::string where = fmt::format("{}:{}", r.task.file, i + 1);
    const std::string label_where = fmt::format("{}:{}", labels_file, k + 1);
    r.add(int64_t(i + 1), [&] {
      return piqa_record(parse_record(lines[i], where), where, label_lines[k], label_where);
    });
    ++k;
  }
}

// llama.cpp's HellaSwag text: per example 6 lines: context, label (0-3), 4 endings.
void read_hellaswag(Reader& r) {
  const std::string text = read_file(r.task.file);
  const auto lines = split_lines(text);
  for (size_t b = 0; b < lines.size() && !r.full(); b += 6) {
    const std::string where = fmt::format("{}:{}", r.task.file, b + 1);
    r.add(int64_t(b + 1), [&] {
      McExample ex;
      if (b + 6 > lines.size())
        bad("{}: incomplete example: {} of its 6 lines (context, label, 4 endings)", where,
            lines.size() - b);
      const std::string_view l = py_strip(lines[b + 1]);
      if (l.size() != 1 || l[0] < '0' || l[0] > '3')
        bad("{}:{}: label '{}' is not 0, 1, 2 or 3", r.task.file, b + 2, lines[b + 1]);
      ex.label = l[0] - '0';
      const std::string ctx(lines[b]);
      for (size_t e = 0; e < 4; ++e) {
        ex.choices.emplace_back(lines[b + 2 + e]);
        ex.requests.push_back({ctx, delimited(ex.choices.back())});
      }
      return ex;
    });
  }
}

}  // namespace

const std::vector<std::string>& zeroshot_task_names() {
  static const std::vector<std::string> names = {"arc_easy", "arc_challenge", "piqa", "hellaswag",
                                                 "winogrande"};
  return names;
}

McTask load_zeroshot_task(const std::string& name, const std::string& data_dir,
                          const TaskLoadOptions& o) {
  McTask t;
  t.name = name;
  const fs::path data(data_dir);
  auto need = [&](const fs::path& p) {
    if (!fs::is_regular_file(p))
      fail("task '{}': file '{}' not found (set --data or LOAQ_ASSETS)", name, p.string());
    return p.string();
  };
  Reader r{t, o};
  if (name == "arc_easy" || name == "arc_challenge") {
    t.file = need(data / "arc" /
                  (name == "arc_easy" ? "ARC-Easy-Test.jsonl" : "ARC-Challenge-Test.jsonl"));
    read_jsonl_task(r, arc_record);
  } else if (name == "piqa") {
    t.file = need(data / "piqa" / "valid.jsonl");
    read_piqa(r, need(data / "piqa" / "valid-labels.lst"));
  } else if (name == "hellaswag") {
    t.file = need(data / "hellaswag" / "hellaswag_val_full.txt");
    read_hellaswag(r);
  } else if (name == "winogrande") {
    t.file = need(data / "winogrande" / "dev.jsonl");
    t.has_acc_norm = false;
    read_jsonl_task(r, winogrande_record);
  } else {
    fail("unknown task '{}': expected arc_easy, arc_challenge, piqa, hellaswag or winogrande",
         name);
  }
  if (t.examples.empty()) fail("{}: no examples to evaluate", t.file);
  return t;
}

}  // namespace loaq
