// llama-logits: the logits that llama.cpp computes for a token sequence, for the tests that compare
// them with loaq's forward pass of the same GGUF. Compiled by scripts/install-llama-cpp.sh against
// the prebuilt llama.cpp libraries (not part of the CMake build).
//   llama-logits MODEL.gguf --tokens 1,2,3 --out LOGITS.f32   logits [n_tokens][n_vocab], float32
//                [--lora ADAPTER.gguf]                       ... with a LoRA adapter on the model
//                                                             (llama_adapter_lora_init, scale 1,
//                                                             as llama.cpp's --lora)
//   llama-logits MODEL.gguf --tokenize TEXT                   token ids, one line, comma separated
//                                                             (BOS as the file says; special tokens
//                                                             in the text recognized, as Hugging
//                                                             Face tokenizers do)
//   llama-logits MODEL.gguf --dequantize OUT.f32              every tensor, in file order, as
//                                                             ggml's own reader and to_float see it
// The context is the one whose logits agree with an fp64 reference: F32 K and V cache, flash
// attention off, one sequence, every position output. Exit 1 with a message on any failure.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"
#include "gguf.h"
#include "llama.h"

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "llama-logits: %s\n", msg.c_str());
  return 1;
}

bool parse_tokens(const std::string& s, std::vector<llama_token>& out) {
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(pos, end - pos);
    char* stop = nullptr;
    long v = std::strtol(item.c_str(), &stop, 10);
    if (item.empty() || *stop != '\0' || v < 0) return false;
    out.push_back(static_cast<llama_token>(v));
    pos = end + 1;
  }
  return !out.empty();
}

void quiet_log(ggml_log_level level, const char* text, void*) {
  if (level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

// Reads the file with ggml's gguf reader and writes each tensor through its type's to_float.
int dequantize(const std::string& path, const std::string& out) {
  gguf_init_params params = {/*no_alloc=*/true, /*ctx=*/nullptr};
  gguf_context* ctx = gguf_init_from_file(path.c_str(), params);
  if (ctx == nullptr) return fail("ggml's gguf reader refuses " + path);
  FILE* in = std::fopen(path.c_str(), "rb");
  FILE* f = std::fopen(out.c_str(), "wb");
  if (in == nullptr || f == nullptr) return fail("cannot open " + path + " or " + out);
  const size_t data = gguf_get_data_offset(ctx);
  for (int64_t i = 0; i < gguf_get_n_tensors(ctx); ++i) {
    const ggml_type type = gguf_get_tensor_type(ctx, i);
    const size_t bytes = gguf_get_tensor_size(ctx, i);
    const auto* traits = ggml_get_type_traits(type);
    if (traits->to_float == nullptr && type != GGML_TYPE_F32)
      return fail(std::string("no to_float for ") + ggml_type_name(type));
    std::vector<uint8_t> raw(bytes);
    if (std::fseek(in, long(data + gguf_get_tensor_offset(ctx, i)), SEEK_SET) != 0 ||
        std::fread(raw.data(), 1, bytes, in) != bytes)
      return fail(std::string("cannot read tensor ") + gguf_get_tensor_name(ctx, i));
    const int64_t n = int64_t(bytes / ggml_type_size(type)) * ggml_blck_size(type);
    std::vector<float> y(static_cast<size_t>(n));
    if (type == GGML_TYPE_F32) {
      std::memcpy(y.data(), raw.data(), bytes);
    } else {
      traits->to_float(raw.data(), y.data(), n);
    }
    if (std::fwrite(y.data(), sizeof(float), y.size(), f) != y.size())
      return fail("cannot write " + out);
  }
  std::fclose(in);
  if (std::fclose(f) != 0) return fail("cannot write " + out);
  gguf_free(ctx);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    return fail(
        "usage: llama-logits MODEL.gguf (--tokens IDS --out FILE [--lora ADAPTER] | --tokenize "
        "TEXT | --dequantize FILE)");
  }
  std::string model_path = argv[1], tokens_arg, out_path, text, lora_path;
  bool tokenize = false;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--tokens") {
      tokens_arg = argv[i + 1];
    } else if (flag == "--out") {
      out_path = argv[i + 1];
    } else if (flag == "--lora") {
      lora_path = argv[i + 1];
    } else if (flag == "--dequantize") {
      return dequantize(model_path, argv[i + 1]);
    } else if (flag == "--tokenize") {
      tokenize = true;
      text = argv[i + 1];
    } else {
      return fail("unknown flag " + flag);
    }
  }
  llama_log_set(quiet_log, nullptr);
  ggml_backend_load_all();
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  llama_model* model = llama_model_load_from_file(model_path.c_str(), mp);
  if (model == nullptr) return fail("cannot load " + model_path);
  const llama_vocab* vocab = llama_model_get_vocab(model);

  if (tokenize) {
    std::vector<llama_token> ids(text.size() + 8);
    int n = llama_tokenize(vocab, text.c_str(), static_cast<int32_t>(text.size()), ids.data(),
                           static_cast<int32_t>(ids.size()), /*add_special=*/true,
                           /*parse_special=*/true);
    if (n < 0) return fail("tokenize failed");
    for (int i = 0; i < n; ++i) std::printf(i ? ",%d" : "%d", ids[i]);
    std::printf("\n");
    llama_model_free(model);
    return 0;
  }

  std::vector<llama_token> tokens;
  if (!parse_tokens(tokens_arg, tokens)) return fail("--tokens: expected ids like 1,2,3");
  if (out_path.empty()) return fail("--out FILE is required with --tokens");
  const int n_vocab = llama_vocab_n_tokens(vocab);
  for (llama_token t : tokens) {
    if (t >= n_vocab) return fail("token " + std::to_string(t) + " outside the vocabulary");
  }

  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(tokens.size());
  cp.n_batch = cp.n_ctx;
  cp.n_ubatch = cp.n_ctx;
  cp.n_seq_max = 1;
  cp.type_k = GGML_TYPE_F32;
  cp.type_v = GGML_TYPE_F32;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.n_threads = 1;
  cp.n_threads_batch = 1;
  llama_context* ctx = llama_init_from_model(model, cp);
  if (ctx == nullptr) return fail("cannot create a context");
  if (!lora_path.empty()) {
    llama_adapter_lora* lora = llama_adapter_lora_init(model, lora_path.c_str());
    if (lora == nullptr) return fail("cannot load the LoRA adapter " + lora_path);
    float scale = 1.0f;
    if (llama_set_adapters_lora(ctx, &lora, 1, &scale) != 0)
      return fail("cannot set the LoRA adapter " + lora_path);
  }

  const int n = static_cast<int>(tokens.size());
  llama_batch batch = llama_batch_init(n, 0, 1);
  for (int i = 0; i < n; ++i) {
    batch.token[i] = tokens[i];
    batch.pos[i] = i;
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
  batch.n_tokens = n;
  if (llama_decode(ctx, batch) != 0) return fail("llama_decode failed");

  FILE* f = std::fopen(out_path.c_str(), "wb");
  if (f == nullptr) return fail("cannot write " + out_path);
  for (int i = 0; i < n; ++i) {
    const float* row = llama_get_logits_ith(ctx, i);
    if (row == nullptr || std::fwrite(row, sizeof(float), n_vocab, f) != size_t(n_vocab)) {
      std::fclose(f);
      return fail("cannot write the logits of position " + std::to_string(i));
    }
  }
  if (std::fclose(f) != 0) return fail("cannot write " + out_path);
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
