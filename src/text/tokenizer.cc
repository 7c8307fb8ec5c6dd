#include "text/tokenizer.h"

#include <filesystem>

#include "core/error.h"
#include "io/json_file.h"
#include "text/hf_tokenizer.h"
#include "text/sp_tokenizer.h"

namespace loaq {

namespace fs = std::filesystem;

std::vector<int32_t> Tokenizer::with_special_tokens(std::vector<int32_t> ids) const {
  if (add_bos && bos_id) ids.insert(ids.begin(), *bos_id);
  return ids;
}

std::vector<int32_t> Tokenizer::encode_with_special(std::string_view text, bool special) const {
  return special ? with_special_tokens(encode(text)) : encode(text);
}

namespace {

// A token given in tokenizer_config.json either as a string or as an AddedToken object.
std::optional<std::string> token_string(const nlohmann::json& cfg, const char* key) {
  if (!cfg.contains(key)) return std::nullopt;
  const auto& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  fs::path dir = path, model_file;
  if (fs::is_regular_file(path)) {
    dir = fs::path(path).parent_path();
    model_file = path;
  } else if (!fs::is_directory(path)) {
    fail("tokenizer path '{}' does not exist", path);
  }
  const auto json_file = dir / "tokenizer.json";
  if (model_file.empty()) {
    if (fs::exists(json_file)) {
      model_file = json_file;
    } else if (fs::exists(dir / "tokenizer.model")) {
      model_file = dir / "tokenizer.model";
    } else {
      fail("{}: missing tokenizer: no tokenizer.json or tokenizer.model in the directory", path);
    }
  }
  if (model_file.extension() == ".json") return load_hf_tokenizer(model_file.string());

  auto tok = std::make_unique<SentencePieceTokenizer>(model_file.string());
  // BOS rule of transformers' LlamaTokenizer: add_bos_token (default true), bos_token (default <s>).
  nlohmann::json cfg = nlohmann::json::object();
  const auto cfg_path = (dir / "tokenizer_config.json").string();
  if (fs::exists(cfg_path)) cfg = read_json_file(cfg_path);
  tok->add_bos = json_get_or<bool>(cfg, "add_bos_token", cfg_path, true);
  const auto bos_piece = token_string(cfg, "bos_token");
  if (bos_piece) {
    tok->bos_id = tok->piece_id(*bos_piece);
    if (!tok->bos_id && tok->add_bos)
      fail("{}: bos_token '{}' is not in the vocabulary of {}", cfg_path, *bos_piece, model_file.string());
  } else if (tok->model_bos_id() >= 0) {
    tok->bos_id = tok->model_bos_id();
  }
  if (tok->add_bos && !tok->bos_id)
    fail("{}: add_bos_token is set but the tokenizer has no BOS token", cfg_path);
  return tok;
}

void check_tokenizer_fits(const Tokenizer& tok, const ModelConfig& c, const std::string& dir) {
  if (tok.vocab_size() > c.vocab_size)
    fail("{}: tokenizer has {} tokens but {} vocab_size is {}", tok.source(), tok.vocab_size(),
         (fs::path(dir) / "config.json").string(), c.vocab_size);
}

std::unique_ptr<Tokenizer> load_model_tokenizer(const std::string& dir, const ModelConfig& c) {
  auto tok = load_tokenizer(dir);
  check_tokenizer_fits(*tok, c, dir);
  return tok;
}

}  // namespace loaq
