#pragma once
// Writers of output formats from a `loaq quantize` directory (export/quant_dir.h):
//  gptq  the GPTQ "v1" checkpoint format of AutoGPTQ / GPTQModel, loaded by transformers' GPTQ
//        integration, vLLM and ExLlama (layout in export_gptq.cc);
//  hf    a plain Hugging Face checkpoint of the dequantized ("fake-quantized") weights;
//  peft  the low-rank branches as a PEFT LoRA adapter (export_peft.cc), for a gptq/hf base;
//  gguf  one GGUF file for llama.cpp (export_gguf.cc);
//  gguf-lora  the low-rank branches as a llama.cpp LoRA adapter GGUF (export_gguf_lora.cc), for
//        the gguf base.
// gptq, hf and gguf write the main layers only (the base of the adapter), unless hf
// --merge-lowrank adds L2·L1 into the weights. All are written atomically (io/staged_dir.h,
// io/atomic_file.h) and refuse an existing output unless forced.
// Outputs are never the input (or inside it), and --force replaces only an export of the same
// kind (io/output_target.h), which the metadata loaq_export=<format> of its safetensors marks.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "export/shards.h"

namespace loaq {

struct ExportOptions {
  std::string format = "gptq";  // a name of export_formats()
  std::string dtype;            // float16 | bfloat16 | float32; empty: the format's default
  bool force = false;
  uint64_t max_shard_bytes = kDefaultShardBytes;
  bool merge_lowrank = false;          // hf: add each branch's L2·L1 into its weight
  bool drop_branch_act_quant = false;  // peft / hf merge: accept losing the branch's A < 16
  std::string base_model;              // peft: base_model_name_or_path (default: report's model)
  // gguf: F32|F16|BF16 or a llama-quantize file type (Q4_K_M...), default F16; gguf-lora:
  // F32|F16|BF16, default F32 (empty: the format's default).
  std::string gguf_type;
  bool gguf_pure = false;    // gguf: every weight matrix the file type's base type
  std::string gguf_imatrix;  // gguf: llama-imatrix's file (io/imatrix.h), as --imatrix
};

struct ExportSummary {
  std::string out;
  std::string dtype;               // torch name of the float tensors written
  std::vector<std::string> files;  // written, relative to out
  int64_t quantized_linears = 0;
  nlohmann::ordered_json quantization_config;  // gptq only
  int64_t lowrank_linears = 0;                 // branches written (peft) or merged (hf)
  std::vector<std::string> notes;              // what the output does not carry, for the user
};

// GPTQ v1. Refuses what the format cannot represent: bit-widths other than 2, 3, 4, 8; real-valued
// zero points; integer zero points outside 1..2^b−1 (v1 stores zero − 1 in b bits and loaders add
// 1 back with a carry into the next field); dimensions not multiples of 32; a scale that is not a
// finite fp16 number; a model that is not fully quantized; anything QuantDir does not recognise.
// dtype (of embeddings, norms, head and biases): float16 (default) or bfloat16; scales are fp16.
ExportSummary export_gptq(const std::string& quant_dir, const std::string& out,
                          const ExportOptions& opt);

// Hugging Face checkpoint of the dequantized weights, same config (torch_dtype set to the dtype
// written), tokenizer files; dtype default: the config's torch_dtype. With float32 the tensors
// are the quantize output's bytes, so `loaq eval` reproduces its perplexity exactly.
ExportSummary export_hf(const std::string& quant_dir, const std::string& out,
                        const ExportOptions& opt);

// PEFT LoRA adapter of the low-rank branches: adapter_config.json (peft_type LORA, task_type
// CAUSAL_LM, r, lora_alpha = r so that the scaling α/r is 1, target_modules, rank_pattern and
// alpha_pattern for modules of another rank, base_model_name_or_path) and
// adapter_model.safetensors with base_model.model.<module>.lora_A.weight [r, in] (= L1) and
// .lora_B.weight [out, r] (= L2), dequantized from the codes, in float16 (default), bfloat16 or
// float32. The base is the same directory exported with --format gptq or hf. A LoRA loader runs
// the branch in floating point: a branch with activation bits < 16 is refused unless
// drop_branch_act_quant (then a note says what is lost).
// The one rule for outputs that run the low-rank branches in floating point (peft, gguf-lora, hf
// --merge-lowrank): `act_quantized` of the `total` branches of `dir` quantize their activations,
// which `target` ("a LoRA adapter", "merged weights") cannot express: refused unless
// opt.drop_branch_act_quant, and then a note of what is lost is added to `sum`.
void check_branch_act_quant(const std::string& dir, int64_t act_quantized, int64_t total,
                            const std::string& target, const ExportOptions& opt,
                            ExportSummary& sum);

ExportSummary export_peft(const std::string& quant_dir, const std::string& out,
                          const ExportOptions& opt);

// GGUF v3 for llama.cpp (export_gguf.cc) from any Hugging Face directory of a llama, qwen2 or
// qwen3 model (a `loaq quantize` output included): the tensor names and metadata llama.cpp's
// converter writes, llama's q/k row permutation, the tokenizer (export/gguf_vocab.h). 1-D
// tensors (norms, biases) are F32; the weight matrices are opt.gguf_type: a float type, or a
// llama-quantize file type with its per-tensor mixture (quant/gguf_mixture.h; gguf_pure: all the
// base type, as llama-quantize --pure), quantized by llama.cpp's reference quantizer, which is what
// llama-quantize does without an imatrix. With opt.gguf_imatrix, as llama-quantize --imatrix: the
// mixture's imatrix rules apply, each tensor that has an entry (by its GGUF name) is rounded by
// llama.cpp's importance-weighted quantizer (quant/gguf_block.h) with those values, the others
// by the reference one, and the quantize.imatrix.* metadata llama-quantize adds is written. `out`
// is one file, written atomically; an existing file is replaced only with `force` and only if it
// is a GGUF. Of a quantize output with low-rank branches it writes the main layers, the base of
// export_gguf_lora (a note says so).
ExportSummary export_gguf(const std::string& model_dir, const std::string& out,
                          const ExportOptions& opt);

// The low-rank branches of a `loaq quantize` output as a llama.cpp LoRA adapter (general.type
// "adapter", adapter.type "lora"), loaded with llama.cpp's --lora on the `export_gguf` base of
// the same directory: per linear with a branch, blk.N.<name>.weight.lora_a (ne {in, r}, = L1) and
// .lora_b (ne {r, out}, = L2, llama's q/k rows permuted as the base's), dequantized from the codes
// in opt.gguf_type (F32 default, F16, BF16); adapter.lora.alpha = r, or 0 when the ranks differ,
// so that llama.cpp's scale is 1 for every tensor. Refuses a directory without branches, and
// branches with activation bits < 16 unless drop_branch_act_quant (a note says what is lost).
ExportSummary export_gguf_lora(const std::string& quant_dir, const std::string& out,
                               const ExportOptions& opt);

// The export formats, one row each: what `loaq export --format` accepts and dispatches on.
struct ExportFormat {
  const char* name;  // --format
  const char* what;  // for --help
  ExportSummary (*write)(const std::string& in, const std::string& out, const ExportOptions& opt);
  bool float_dtype;  // takes --dtype
  bool gguf_type;    // takes --type
};
std::span<const ExportFormat> export_formats();

// Dispatches on opt.format (refusing --dtype / --type for a format that does not take it).
ExportSummary export_checkpoint(const std::string& quant_dir, const std::string& out,
                                const ExportOptions& opt);

// "float16"/"fp16"/"half" → F16, "bfloat16"/"bf16" → BF16, "float32"/"fp32"/"float" → F32.
DType parse_float_dtype(const std::string& s);
// The torch name: "float16", "bfloat16", "float32".
std::string torch_dtype_name(DType t);
// `t` converted to F32/F16/BF16 little-endian bytes (round to nearest even); a value that becomes
// infinite (beyond the fp16 range) is an error naming `name`.
std::vector<std::byte> float_bytes(const Tensor& t, DType dt, const std::string& name);

}  // namespace loaq
