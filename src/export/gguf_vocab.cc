#include "export/gguf_vocab.h"

#include <sentencepiece_processor.h>

#include <filesystem>
#include <map>
#include <optional>

#include "core/error.h"
#include "io/json_file.h"
#include "text/tokenizer.h"

namespace loaq {

namespace {

namespace fs = std::filesystem;
using Kv = std::vector<std::pair<std::string, GgufValue>>;

enum TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

// The split regexes of the byte-level BPE pre-tokenizers llama.cpp knows, by its name for them.
constexpr std::pair<const char*, const char*> kPreTokenizers[] = {
    {"llama-bpe",
     R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
    {"qwen2",
     R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
};

std::string find_split_regex(const nlohmann::json& pre) {
  if (!pre.is_object()) return "";
  if (pre.value("type", "") == "Split" && pre.contains("pattern") && pre["pattern"].is_object() &&
      pre["pattern"].contains("Regex") && pre["pattern"]["Regex"].is_string())
    return pre["pattern"]["Regex"].get<std::string>();
  if (pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array())
    for (const auto& p : pre["pretokenizers"]) {
      std::string r = find_split_regex(p);
      if (!r.empty()) return r;
    }
  return "";
}

void pad_vocab(std::vector<std::string>& tokens, std::vector<float>* scores,
               std::vector<int32_t>& types, int64_t vocab_size) {
  for (int64_t i = int64_t(tokens.size()); i < vocab_size; ++i) {
    tokens.push_back("[PAD" + std::to_string(i) + "]");
    if (scores) scores->push_back(-10000.0f);
    types.push_back(kUnused);
  }
}

Kv sentencepiece_metadata(const std::string& file, const nlohmann::json& tok_config,
                          const ModelConfig& c) {
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.Load(file).ok()) fail("{}: not a SentencePiece model", file);
  const int n = sp.GetPieceSize();
  if (n > c.vocab_size)
    fail("{}: {} pieces, more than the config's vocab_size {}", file, n, c.vocab_size);
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int i = 0; i < n; ++i) {
    tokens.push_back(sp.IdToPiece(i));
    scores.push_back(sp.GetScore(i));
    types.push_back(sp.IsUnknown(i)   ? kUnknown
                    : sp.IsControl(i) ? kControl
                    : sp.IsUnused(i)  ? kUnused
                    : sp.IsByte(i)    ? kByte
                                      : kNormal);
  }
  if (tok_config.contains("added_tokens_decoder") && tok_config["added_tokens_decoder"].is_object())
    for (const auto& [id_s, t] : tok_config["added_tokens_decoder"].items()) {
      int64_t id = -1;
      try {
        id = std::stoll(id_s);
      } catch (const std::exception&) {
        fail("tokenizer_config.json: added_tokens_decoder key '{}' is not a token id", id_s);
      }
      if (id < 0 || id >= c.vocab_size || !t.is_object() || !t.contains("content")) continue;
      pad_vocab(tokens, &scores, types, id + 1);
      tokens[size_t(id)] = t["content"].get<std::string>();
      types[size_t(id)] = t.value("special", false) ? kControl : kUserDefined;
    }
  pad_vocab(tokens, &scores, types, c.vocab_size);
  Kv kv = {{"tokenizer.ggml.model", GgufValue::str("llama")},
           {"tokenizer.ggml.pre", GgufValue::str("default")},
           {"tokenizer.ggml.tokens", GgufValue::array_str(std::move(tokens))},
           {"tokenizer.ggml.scores", GgufValue::array_f32(std::move(scores))},
           {"tokenizer.ggml.token_type", GgufValue::array_i32(std::move(types))}};
  if (sp.unk_id() >= 0)
    kv.push_back({"tokenizer.ggml.unknown_token_id", GgufValue::u32(uint32_t(sp.unk_id()))});
  if (sp.pad_id() >= 0)
    kv.push_back({"tokenizer.ggml.padding_token_id", GgufValue::u32(uint32_t(sp.pad_id()))});
  return kv;
}

Kv bpe_metadata(const std::string& file, const ModelConfig& c) {
  const nlohmann::json j = read_json_file(file);
  if (!j.contains("model") || !j["model"].is_object() || j["model"].value("type", "") != "BPE")
    fail("{}: only byte-level BPE tokenizers (model.type \"BPE\") can be written to GGUF", file);
  const auto& m = j["model"];
  if (!m.contains("vocab") || !m["vocab"].is_object() || !m.contains("merges") ||
      !m["merges"].is_array())
    fail("{}: model.vocab or model.merges missing", file);
  const std::string regex = find_split_regex(j.value("pre_tokenizer", nlohmann::json()));
  std::string pre;
  for (const auto& [name, r] : kPreTokenizers)
    if (regex == r) pre = name;
  if (pre.empty())
    fail(
        "{}: the pre-tokenizer's split regex is not one llama.cpp knows (Llama 3's or Qwen's); "
        "llama.cpp would split text differently",
        file);
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<bool> set;
  auto put = [&](int64_t id, const std::string& s, int32_t type) {
    if (id < 0 || id >= c.vocab_size)
      fail("{}: token id {} outside the config's vocab_size {}", file, id, c.vocab_size);
    if (int64_t(tokens.size()) <= id) {
      tokens.resize(size_t(id + 1));
      types.resize(size_t(id + 1), kUnused);
      set.resize(size_t(id + 1), false);
    }
    tokens[size_t(id)] = s;
    types[size_t(id)] = type;
    set[size_t(id)] = true;
  };
  for (const auto& [s, id] : m["vocab"].items()) {
    if (!id.is_number_integer()) fail("{}: vocab entry '{}' has no integer id", file, s);
    put(id.get<int64_t>(), s, kNormal);
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& t : j["added_tokens"]) {
      if (!t.is_object() || !t.contains("id") || !t.contains("content")) continue;
      put(t["id"].get<int64_t>(), t["content"].get<std::string>(),
          t.value("special", false) ? kControl : kUserDefined);
    }
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!set[i]) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = kUnused;
    }
  pad_vocab(tokens, nullptr, types, c.vocab_size);
  std::vector<std::string> merges;
  for (const auto& mg : m["merges"]) {
    if (mg.is_string()) {
      merges.push_back(mg.get<std::string>());
    } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
      merges.push_back(mg[0].get<std::string>() + " " + mg[1].get<std::string>());
    } else {
      fail("{}: a merge is neither \"a b\" nor [\"a\", \"b\"]", file);
    }
  }
  return {{"tokenizer.ggml.model", GgufValue::str("gpt2")},
          {"tokenizer.ggml.pre", GgufValue::str(pre)},
          {"tokenizer.ggml.tokens", GgufValue::array_str(std::move(tokens))},
          {"tokenizer.ggml.token_type", GgufValue::array_i32(std::move(types))},
          {"tokenizer.ggml.merges", GgufValue::array_str(std::move(merges))}};
}

// The id of a special token named in tokenizer_config.json (a string or {"content": ...}).
std::optional<int64_t> special_id(const nlohmann::json& cfg, const char* key,
                                  const std::vector<std::string>& tokens) {
  if (!cfg.contains(key)) return std::nullopt;
  std::string s;
  if (cfg[key].is_string())
    s = cfg[key].get<std::string>();
  else if (cfg[key].is_object() && cfg[key].contains("content") && cfg[key]["content"].is_string())
    s = cfg[key]["content"].get<std::string>();
  else
    return std::nullopt;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] == s) return int64_t(i);
  return std::nullopt;
}

}  // namespace

Kv gguf_tokenizer_metadata(const std::string& dir, const ModelConfig& c) {
  const fs::path d(dir);
  nlohmann::json tok_config = nlohmann::json::object();
  if (fs::is_regular_file(d / "tokenizer_config.json")) {
    tok_config = read_json_file((d / "tokenizer_config.json").string());
    if (!tok_config.is_object())
      fail("{}: not a JSON object", (d / "tokenizer_config.json").string());
  }
  Kv kv;
  if (fs::is_regular_file(d / "tokenizer.json")) {
    kv = bpe_metadata((d / "tokenizer.json").string(), c);
  } else if (fs::is_regular_file(d / "tokenizer.model")) {
    kv = sentencepiece_metadata((d / "tokenizer.model").string(), tok_config, c);
  } else {
    fail("{}: no tokenizer.json or tokenizer.model to write into the GGUF", dir);
  }
  // A copy: kv grows below, which would leave a reference into it dangling.
  const std::vector<std::string> tokens = kv[2].second.strings;
  auto bos = special_id(tok_config, "bos_token", tokens);
  auto eos = special_id(tok_config, "eos_token", tokens);
  if (!bos && c.bos_token_id) bos = *c.bos_token_id;
  if (!eos && !c.eos_token_ids.empty()) eos = c.eos_token_ids[0];
  if (bos) kv.push_back({"tokenizer.ggml.bos_token_id", GgufValue::u32(uint32_t(*bos))});
  if (eos) kv.push_back({"tokenizer.ggml.eos_token_id", GgufValue::u32(uint32_t(*eos))});
  if (!kv.empty() && tok_config.contains("pad_token")) {
    if (auto pad = special_id(tok_config, "pad_token", tokens)) {
      bool have = false;
      for (const auto& [k, v] : kv) have |= k == "tokenizer.ggml.padding_token_id";
      if (!have) kv.push_back({"tokenizer.ggml.padding_token_id", GgufValue::u32(uint32_t(*pad))});
    }
  }
  // BOS as loaq's tokenizer adds it (the Hugging Face semantics: tokenizer_config.json for
  // SentencePiece, the post-processor of a tokenizer.json), always written: llama.cpp's default
  // depends on the pre-tokenizer.
  const auto tok = load_model_tokenizer(dir, c);
  const auto special = tok->with_special_tokens({});
  const bool add_bos = !special.empty() && tok->bos_id && special.front() == *tok->bos_id;
  kv.push_back({"tokenizer.ggml.add_bos_token", GgufValue::boolean(add_bos)});
  if (tok_config.contains("add_eos_token") && tok_config["add_eos_token"].is_boolean())
    kv.push_back({"tokenizer.ggml.add_eos_token",
                  GgufValue::boolean(tok_config["add_eos_token"].get<bool>())});
  return kv;
}

}  // namespace loaq
