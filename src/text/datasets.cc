#include "text/datasets.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "io/json_file.h"

namespace loaq {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '{}': {}", path, std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("cannot read '{}'", path);
  return ss.str();
}

namespace {

// Python's str.isspace() for one code point (the whitespace str.strip() removes).
bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
         c == 0x205f || c == 0x3000;
}

// Decodes one UTF-8 code point at s[i], advancing i; invalid bytes decode as themselves.
char32_t next_cp(std::string_view s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
  if (i + size_t(n) > s.size()) n = 1;
  char32_t c = n == 1 ? b : n == 2 ? (b & 0x1f) : n == 3 ? (b & 0x0f) : (b & 0x07);
  for (int k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + size_t(k)]) & 0x3f);
  i += size_t(n);
  return c;
}

}  // namespace

bool py_blank(std::string_view s) {
  for (size_t i = 0; i < s.size();)
    if (!py_space(next_cp(s, i))) return false;
  return true;
}

std::string_view py_rstrip(std::string_view s) {
  size_t e = s.size();
  while (e > 0) {
    size_t k = e - 1;
    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xc0) == 0x80) --k;
    size_t j = k;
    if (!py_space(next_cp(s, j))) break;
    e = k;
  }
  return s.substr(0, e);
}

std::string_view py_strip(std::string_view s) {
  size_t b = 0;
  while (b < s.size()) {
    size_t j = b;
    if (!py_space(next_cp(s, j))) break;
    b = j;
  }
  return py_rstrip(s.substr(b));
}

namespace {

std::string join_texts(const std::vector<std::string>& docs, size_t begin, size_t end, const char* sep) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) out += sep;
    out += docs[i];
  }
  return out;
}

}  // namespace

std::vector<std::string> read_jsonl_texts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '{}': {}", path, std::strerror(errno));
  std::vector<std::string> out;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (py_blank(line)) continue;
    const nlohmann::json j = parse_json(line, fmt::format("{}:{}", path, lineno));
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
      fail("{}:{}: record has no string field 'text'", path, lineno);
    out.push_back(j["text"].get<std::string>());
  }
  if (out.empty()) fail("{}: no records", path);
  return out;
}

std::string wikitext2_text(const std::string& raw_path) {
  const std::string raw = read_file(raw_path);
  std::string out;
  out.reserve(raw.size() + raw.size() / 8);
  size_t start = 0;
  bool first = true;
  while (start < raw.size()) {  // pieces of split("\n"), without the final empty one
    size_t nl = raw.find('\n', start);
    if (nl == std::string::npos) nl = raw.size();
    const std::string_view line(raw.data() + start, nl - start);
    if (!first) out += "\n\n";
    first = false;
    if (!py_blank(line)) {
      out += line;
      out += '\n';
    }
    start = nl + 1;
  }
  return out;
}

std::string c4_text(const std::string& jsonl_path) {
  const auto docs = read_jsonl_texts(jsonl_path);
  return join_texts(docs, 0, docs.size(), " ");
}

std::string ptb_text(const std::string& txt_path) {
  const std::string raw = read_file(txt_path);
  std::string out;
  std::istringstream in(raw);
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (!first) out += ' ';
    first = false;
    out += py_strip(line);
  }
  return out;
}

std::string file_text(const std::string& path) {
  if (fs::path(path).extension() == ".jsonl") return c4_text(path);
  return read_file(path);
}

std::string c4_train_path(const std::string& data_dir) {
  return (fs::path(data_dir) / "c4" / "c4-train.00000-of-01024.first1041.jsonl").string();
}

EvalDataset load_eval_dataset(const std::string& name, const std::string& data_dir) {
  EvalDataset d;
  d.name = name;
  auto need = [&](const fs::path& p) {
    if (!fs::exists(p))
      fail("dataset '{}': file '{}' not found (set --data or LOAQ_ASSETS)", name, p.string());
    return p.string();
  };
  const fs::path data(data_dir);
  if (name == "wikitext2") {
    d.path = need(data / "wikitext2" / "wiki.test.raw");
    d.text = wikitext2_text(d.path);
  } else if (name == "c4") {
    d.path = need(data / "c4" / "c4-validation.00000-of-00008.first1025.jsonl");
    d.text = c4_text(d.path);
    d.windows_cap = 256;
  } else if (name == "c4-heldout") {
    d.path = need(c4_train_path(data_dir));
    const auto docs = read_jsonl_texts(d.path);
    if (int64_t(docs.size()) <= kC4HeadDocs)
      fail("{}: fewer than {} documents, nothing held out", d.path, kC4HeadDocs + 1);
    d.text = join_texts(docs, size_t(kC4HeadDocs), docs.size(), " ");
  } else if (name == "ptb") {
    d.path = need(data / "ptb" / "ptb.test.txt");
    d.text = ptb_text(d.path);
  } else {
    if (!fs::is_regular_file(name))
      fail("unknown dataset '{}': expected wikitext2, c4, ptb, c4-heldout or the path of a text/jsonl file",
           name);
    d.path = name;
    d.text = file_text(name);
  }
  return d;
}

}  // namespace loaq
