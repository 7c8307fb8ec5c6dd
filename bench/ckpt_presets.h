#pragma once
// Real models' config.json, as published on the Hugging Face Hub, for random-weight checkpoints of
// the shapes users bring (make_checkpoint).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace loaq::bench {

struct CkptPreset {
  std::string name;       // "llama-3-8b"
  std::string hub_id;     // "meta-llama/Meta-Llama-3-8B"
  std::string tokenizer;  // folder under $LOAQ_ASSETS/tokenizers
  nlohmann::ordered_json config;
};

const std::vector<CkptPreset>& ckpt_presets();
// Throws loaq::Error listing the known names when `name` is none of them.
const CkptPreset& find_ckpt_preset(const std::string& name);

}  // namespace loaq::bench
