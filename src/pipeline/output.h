#pragma once
// What `loaq quantize` writes, layer by layer: a Hugging Face checkpoint of the dequantized
// (fake-quantized) model whose quantized linears are stored only as their integer state, plus a
// report. loaq reads it as a checkpoint (io/checkpoint.h dequantizes those linears at load); `loaq
// export --format hf|gptq` makes a directory other tools load.
//   config.json, tokenizer files      copied from the input model ("loaq" section when rotated,
//                                     with quantized activations, low-rank branches, or linears
//                                     in the integer state: "weights_in_quant_state": true)
//   model.safetensors                 one file when the model fits max_shard_bytes, else shards
//   (or model-0000k-of-0000N…)       model-0000k-of-0000N.safetensors +
//   model.safetensors.index.json
//                                     as transformers' save_pretrained names them (one shard per
//                                     decoder layer, one for the embedding, final norm and head).
//                                     A tensor loaq did not change keeps the source's dtype and
//                                     bytes; one it computed is stored in the source's dtype when
//                                     every value is exact there, else in F32. A quantized
//                                     linear's weight, scale·(code − zero), is left out when its
//                                     state reproduces it bit for bit (always, for loaq's grids;
//                                     else it is stored in F32 as before).
//   quant_state.safetensors           per quantized linear <name>.{codes,scale,zero,g_idx,perm}
//                                     and its low-rank branch <name>.lowrank.* (io/lowrank_state.h;
//                                     config.json "loaq": {"lowrank_branches": true} then tells
//                                     loaders to run them)
//   (or quant_state-0000k-of-…)      sharded the same way, with quant_state.safetensors.index.json
//   report.json                       configuration, timings, memory, per-linear objectives, ppl
// Everything is built in OUT.partial/ and renamed to OUT at the end, so an interrupted run never
// leaves a directory that looks complete. OUT.partial/resume/ holds the resume state
// (pipeline/resume.h) until then. On several ranks (dist.h) every rank constructs the output and
// hands it its layers; rank 0 alone writes and commits, every rank saves its own stream slices
// (hq-LLLLL.rank-r-of-R.bin), so OUT must be on a file system every rank sees.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "io/checkpoint.h"
#include "model/model.h"
#include "pipeline/quantize.h"
#include "quant/grid.h"
#include "quant/solver.h"

namespace loaq {

struct OutputOptions {
  std::string out_dir;
  bool force = false;   // replace an existing output, or discard an earlier run's partial state
  bool resume = false;  // continue the partial state of an earlier run with the same fingerprint
  int64_t max_shard_bytes = 5'000'000'000;  // save_pretrained's default "5GB"
  bool quiet = false;
};

// What a resumed run starts from.
struct ResumedRun {
  StreamState streams;
  QuantizeReport report;
};

class QuantOutput : public LayerSink {
 public:
  // Opens OUT.partial/ (locked against a second run on the same output). Without `resume`, an
  // existing OUT or partial state is refused unless `force`. With `resume`, the partial state's
  // fingerprint must equal `fingerprint` (the message names what differs); no partial state
  // starts fresh, and says so.
  QuantOutput(const Checkpoint& src, const QuantizeConfig& cfg, const OutputOptions& o,
              const nlohmann::ordered_json& fingerprint);
  ~QuantOutput() override;
  QuantOutput(const QuantOutput&) = delete;
  QuantOutput& operator=(const QuantOutput&) = delete;

  // The streams and report to continue from (resume with partial state only). `windows` etc.:
  // the stream shape.
  std::optional<ResumedRun> resumed(int64_t windows, int64_t seqlen, bool fp_stream);

  void rotated_globals(const ModelConfig& c, const Tensor& embed, const Tensor& head,
                       const Tensor& final_norm) override;
  void layer_done(int64_t l, LayerWeights&& wq, std::map<std::string, QuantizedLinear>&& states,
                  const QuantizeReport& report, const StreamState& streams) override;

  // Rank 0 only. Writes the model files, the integer state, config.json and the tokenizer files
  // into OUT.partial/ and returns that directory (a checkpoint that can be evaluated before
  // commit()).
  std::string assemble();
  // Rank 0 only. Writes report.json, drops the resume state and renames OUT.partial/ to OUT.
  void commit(const nlohmann::ordered_json& report);

  const std::string& partial_dir() const { return partial_; }

 private:
  std::string part(const std::string& what) const;
  void open_as_root(const Checkpoint& src, const OutputOptions& o);

  const Checkpoint& src_;
  const QuantizeConfig& cfg_;
  OutputOptions o_;
  nlohmann::ordered_json fingerprint_;
  std::string partial_, resume_dir_;
  int lock_fd_ = -1;
  bool committed_ = false;
  bool has_lowrank_ = false;  // a layer handed over carried low-rank branches
  int64_t layers_done_ = 0;
  std::vector<std::string> stream_files_;  // of the last committed state
};

// All tensors of a resident model in Hugging Face names, F32, into `path` (atomic).
void write_model_safetensors(const Model& m, const std::string& path,
                             const std::map<std::string, std::string>& metadata = {});

// The output of a resident, already quantized model `m` (same layout as `loaq quantize`'s; the
// source directory gives config, tokenizer and dtypes). Refuses an existing `out_dir` unless
// `force`.
void write_quant_output(const std::string& out_dir, bool force, const std::string& source_dir,
                        const Model& m, const std::map<std::string, QuantizedLinear>& linears,
                        const GridConfig& grid, const nlohmann::ordered_json& report);

}  // namespace loaq
