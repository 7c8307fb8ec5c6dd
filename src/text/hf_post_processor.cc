#include "text/hf_post_processor.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/hf_json.h"

namespace loaq {

namespace {

// Bert/Roberta store a special token as ["[CLS]", 101].
int32_t token_pair_id(const nlohmann::json& j, const char* key, const std::string& where,
                      const std::string& path) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->size() != 2 || !(*it)[1].is_number_integer())
    fail("{}: {}.{} must be [token, id]", where, path, key);
  return (*it)[1].get<int32_t>();
}

std::vector<TemplateItem> parse_template(const nlohmann::json& j, const std::string& where,
                                         const std::string& path) {
  const auto single = j.find("single");
  if (single == j.end() || !single->is_array())
    fail("{}: {}.single is missing or not an array", where, path);
  const auto specials = j.find("special_tokens");
  std::vector<TemplateItem> items;
  for (size_t i = 0; i < single->size(); ++i) {
    const auto& e = (*single)[i];
    const std::string ipath = fmt::format("{}.single[{}]", path, i);
    TemplateItem item;
    if (e.is_object() && e.contains("Sequence")) {
      item.is_sequence = true;
    } else if (e.is_object() && e.contains("SpecialToken")) {
      const auto& st = e["SpecialToken"];
      const std::string name = json_string(st, "id", where, ipath + ".SpecialToken");
      if (specials == j.end() || !specials->is_object() || !specials->contains(name))
        fail("{}: {} uses special token '{}', which {}.special_tokens does not define", where,
             ipath, name, path);
      const auto& def = (*specials)[name];
      const auto ids = def.find("ids");
      if (ids == def.end() || !ids->is_array())
        fail("{}: {}.special_tokens['{}'].ids is missing or not an array", where, path, name);
      for (const auto& id : *ids) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0)
          fail("{}: {}.special_tokens['{}'].ids holds a bad id: {}", where, path, name, id.dump());
        item.ids.push_back(id.get<int32_t>());
      }
    } else {
      fail("{}: {} is neither {{\"Sequence\": ...}} nor {{\"SpecialToken\": ...}}: {}", where,
           ipath, e.dump());
    }
    items.push_back(std::move(item));
  }
  return items;
}

void parse_into(const nlohmann::json& j, const std::string& where, const std::string& path,
                PostProcessor& out) {
  const std::string& type = json_type(j, where, path);
  if (type == "Sequence") {
    const auto it = j.find("processors");
    if (it == j.end() || !it->is_array())
      fail("{}: {}.processors is missing or not an array", where, path);
    for (size_t i = 0; i < it->size(); ++i)
      parse_into((*it)[i], where, fmt::format("{}.processors[{}]", path, i), out);
  } else if (type == "TemplateProcessing") {
    out.push_back(parse_template(j, where, path));
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    const int32_t cls = token_pair_id(j, "cls", where, path);
    const int32_t sep = token_pair_id(j, "sep", where, path);
    out.push_back({TemplateItem{false, {cls}}, TemplateItem{true, {}}, TemplateItem{false, {sep}}});
  } else if (type == "ByteLevel") {
    // Adjusts offsets only; the ids are unchanged.
  } else {
    fail(
        "{}: {}: post-processor type '{}' is not supported (supported: TemplateProcessing, "
        "BertProcessing, RobertaProcessing, ByteLevel, Sequence)",
        where, path, type);
  }
}

}  // namespace

PostProcessor parse_post_processor(const nlohmann::json& j, const std::string& where) {
  PostProcessor p;
  if (!j.is_null()) parse_into(j, where, "post_processor", p);
  return p;
}

PostProcessor llama_template(std::optional<int32_t> bos, std::optional<int32_t> eos) {
  std::vector<TemplateItem> t;
  if (bos) t.push_back(TemplateItem{false, {*bos}});
  t.push_back(TemplateItem{true, {}});
  if (eos) t.push_back(TemplateItem{false, {*eos}});
  return {t};
}

std::vector<int32_t> post_process(const PostProcessor& p, std::vector<int32_t> ids) {
  for (const auto& tmpl : p) {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 4);
    for (const TemplateItem& item : tmpl) {
      if (item.is_sequence) {
        out.insert(out.end(), ids.begin(), ids.end());
      } else {
        out.insert(out.end(), item.ids.begin(), item.ids.end());
      }
    }
    ids = std::move(out);
  }
  return ids;
}

std::optional<int32_t> leading_special(const PostProcessor& p) {
  // Run the templates on a marker sequence; what precedes the marker was added before it.
  const std::vector<int32_t> marked = post_process(p, {-1});
  if (marked.empty() || marked[0] == -1) return std::nullopt;
  return marked[0];
}

}  // namespace loaq
