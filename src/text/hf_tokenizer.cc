#include "text/hf_tokenizer.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace loaq {

namespace {

// A token named in tokenizer_config.json, as a string or an AddedToken object; `fallback` when
// the key is absent (an explicit null means none).
std::optional<std::string> config_token(const nlohmann::json& cfg, const char* key,
                                        const char* fallback) {
  const auto it = cfg.find(key);
  if (it == cfg.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return std::nullopt;
}

bool is_llama_class(const nlohmann::json& cfg) {
  const auto it = cfg.find("tokenizer_class");
  if (it == cfg.end() || !it->is_string()) return false;
  const auto& c = it->get_ref<const std::string&>();
  return c == "LlamaTokenizer" || c == "LlamaTokenizerFast";
}

}  // namespace

HfTokenizer::HfTokenizer(const nlohmann::json& j, const nlohmann::json& config, std::string source)
    : source_(std::move(source)) {
  if (!j.is_object()) fail("{}: not a tokenizer.json (the top level is not an object)", source_);
  if (const auto v = j.find("version"); v != j.end() && v->is_string() && *v != "1.0")
    fail("{}: tokenizer.json version '{}' is not supported (expected 1.0)", source_,
         v->get<std::string>());
  const auto field = [&](const char* key) -> const nlohmann::json& {
    static const nlohmann::json null_json;
    const auto it = j.find(key);
    return it == j.end() ? null_json : *it;
  };

  const nlohmann::json& model = field("model");
  if (!model.is_object()) fail("{}: \"model\" is missing or not an object", source_);
  std::string type;
  if (const auto t = model.find("type"); t != model.end() && t->is_string()) {
    type = t->get<std::string>();
  } else if (model.contains("merges")) {
    type = "BPE";  // files written before the type tag was added
  } else {
    fail("{}: model has no \"type\"", source_);
  }
  if (type != "BPE") fail("{}: model type '{}' is not supported (supported: BPE)", source_, type);
  model_ = std::make_unique<BpeModel>(BpeModel::from_json(model, source_));

  normalizer_ = parse_normalizer(field("normalizer"), source_);
  pre_tokenizer_ = parse_pre_tokenizer(field("pre_tokenizer"), source_);
  added_ = AddedVocabulary(AddedVocabulary::parse(field("added_tokens"), model_->vocab(), source_),
                           normalizer_);
  post_processor_ = parse_post_processor(field("post_processor"), source_);
  decoder_ = parse_decoder(field("decoder"), source_);

  if (config.is_object() && is_llama_class(config)) {
    // transformers' LlamaTokenizerFast.update_post_processor (its defaults: bos <s>, eos </s>).
    const auto token_id = [&](const char* key, const char* fallback) -> std::optional<int32_t> {
      const auto name = config_token(config, key, fallback);
      if (!name) return std::nullopt;
      int32_t id = added_.find(*name);
      if (id < 0) id = model_->vocab().find(*name);
      if (id < 0)
        fail("{}: tokenizer_config.json {} '{}' is not in the vocabulary", source_, key, *name);
      return id;
    };
    const auto flag = [&](const char* key, bool fallback) {
      const auto it = config.find(key);
      return it != config.end() && it->is_boolean() ? it->get<bool>() : fallback;
    };
    const bool add_bos_token = flag("add_bos_token", true);
    const bool add_eos_token = flag("add_eos_token", false);
    std::optional<int32_t> bos, eos;
    if (add_bos_token) {
      bos = token_id("bos_token", "<s>");
      if (!bos) fail("{}: tokenizer_config.json sets add_bos_token but has no bos_token", source_);
    }
    if (add_eos_token) {
      eos = token_id("eos_token", "</s>");
      if (!eos) fail("{}: tokenizer_config.json sets add_eos_token but has no eos_token", source_);
    }
    post_processor_ = llama_template(bos, eos);
  }
  bos_id = leading_special(post_processor_);
  add_bos = bos_id.has_value();
}

void HfTokenizer::encode_section(std::string_view section, bool at_start,
                                 std::vector<int32_t>& ids) const {
  const std::string normalized = normalize(normalizer_, std::string(section));
  std::vector<AddedSection> parts;
  added_.split(normalized, /*normalized=*/true, parts);
  std::vector<PreToken> pieces;
  for (const AddedSection& p : parts) {
    if (p.id >= 0) {
      ids.push_back(p.id);
      continue;
    }
    pieces.clear();
    pre_tokenize(pre_tokenizer_, normalized.substr(p.begin, p.end - p.begin),
                 at_start && p.begin == 0, pieces);
    for (const PreToken& piece : pieces) model_->tokenize(piece.text, ids);
  }
}

std::vector<int32_t> HfTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<AddedSection> sections;
  added_.split(text, /*normalized=*/false, sections);
  for (const AddedSection& s : sections) {
    if (s.id >= 0) {
      ids.push_back(s.id);
    } else {
      encode_section(text.substr(s.begin, s.end - s.begin), s.begin == 0, ids);
    }
  }
  return ids;
}

std::string HfTokenizer::decode(std::span<const int32_t> ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int32_t id : ids) {
    if (const AddedToken* t = added_.find(id)) {
      tokens.push_back(t->form);
    } else if (const auto piece = model_->vocab().token(id)) {
      tokens.emplace_back(*piece);
    }  // ids that no token has are skipped, as in the reference
  }
  return decode_tokens(decoder_, std::move(tokens));
}

int64_t HfTokenizer::vocab_size() const {
  int64_t n = int64_t(model_->vocab().max_id()) + 1;
  for (const AddedToken& t : added_.tokens()) n = std::max(n, int64_t(t.id) + 1);
  return n;
}

std::string HfTokenizer::id_to_piece(int32_t id) const {
  if (const AddedToken* t = added_.find(id)) return t->form;
  if (const auto piece = model_->vocab().token(id)) return std::string(*piece);
  fail("{}: no token has id {}", source_, id);
}

std::vector<int32_t> HfTokenizer::with_special_tokens(std::vector<int32_t> ids) const {
  return post_process(post_processor_, std::move(ids));
}

std::unique_ptr<HfTokenizer> load_hf_tokenizer(const std::string& json_path) {
  const nlohmann::json j = read_json_file(json_path);
  nlohmann::json config;
  const auto cfg_path = std::filesystem::path(json_path).parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(cfg_path)) config = read_json_file(cfg_path.string());
  return std::make_unique<HfTokenizer>(j, config, json_path);
}

}  // namespace loaq
