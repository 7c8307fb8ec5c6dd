// `loaq tokenize`: the token ids of a text with the tokenizer a checkpoint directory selects (or a
// given tokenizer file), to debug prompts and to check tokenizers from outside.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "text/datasets.h"
#include "text/tokenizer.h"

namespace loaq::cli {

namespace {

struct TokenizeArgs {
  std::string model;
  std::string tokenizer;
  std::string text;
  std::string file;
  bool special = false;
  bool json = false;
};

int run_tokenize(const TokenizeArgs& a) {
  const auto tok = load_tokenizer(a.model.empty() ? a.tokenizer : a.model);
  const std::string text = a.file.empty() ? a.text : read_file(a.file);
  const std::vector<int32_t> ids = tok->encode_with_special(text, a.special);
  if (!a.json) {
    fmt::print("{}\n", fmt::join(ids, " "));
    return 0;
  }
  nlohmann::ordered_json out;
  out["ids"] = ids;
  out["pieces"] = nlohmann::ordered_json::array();
  for (const int32_t id : ids) out["pieces"].push_back(tok->id_to_piece(id));
  out["decoded"] = tok->decode(ids);
  // Pieces of a SentencePiece byte token or a decoded text are valid UTF-8; `replace` only guards
  // the output against a vocabulary that is not.
  fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return 0;
}

}  // namespace

Runner add_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  auto* cmd =
      app.add_subcommand("tokenize", "Token ids of a text (tokenizer.json or tokenizer.model)");
  auto* model = cmd->add_option("--model", a->model,
                                "Model directory: its tokenizer.json, else its tokenizer.model");
  auto* tokenizer =
      cmd->add_option("--tokenizer", a->tokenizer,
                      "A tokenizer.json or tokenizer.model, or a directory holding one");
  auto* text = cmd->add_option("--text", a->text, "The text to tokenize");
  auto* file = cmd->add_option("--file", a->file, "Tokenize the contents of this file (verbatim)");
  cmd->add_flag("--special", a->special,
                "Add the special tokens the tokenizer adds to a text (e.g. BOS)");
  cmd->add_flag("--json", a->json,
                "Print one JSON object {\"ids\": [...], \"pieces\": [...], \"decoded\": \"...\"}");
  cmd->callback([model, tokenizer, text, file] {
    if (model->count() + tokenizer->count() != 1)
      throw CLI::ValidationError("tokenize", "give exactly one of --model DIR, --tokenizer PATH");
    if (text->count() + file->count() != 1)
      throw CLI::ValidationError("tokenize", "give exactly one of --text STR, --file PATH");
  });
  return [a] { return run_tokenize(*a); };
}

}  // namespace loaq::cli
