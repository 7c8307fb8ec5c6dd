#pragma once
// An experiment file (YAML): the models, the calibration and quantization settings (every
// `loaq quantize` option may be a list: the grid), the seeds, the evaluation, the output folder,
// and the tables and figures `loaq bench report` makes from the results.
//
//   name: table5-small
//   out: bench-out/table5-small          # relative to the current directory
//   models: [llama-mini-7m]              # a folder under $LOAQ_ASSETS/models, or a path
//   seeds: [0, 1, 2]                     # calibration seeds
//   quantize: {method: [gptq, loaq], wbits: 2, nsamples: 128, seqlen: 256, no-soa: [false, true]}
//   eval: {ppl: [wikitext2, c4], seqlen: 256, max_windows: 0, tasks: [piqa], limit: 0}
//   report:
//     tables: [{name: table5, kind: ablation, columns: [wikitext2, c4]}]
//     figures: [{name: fig2, x: alpha, y: wikitext2, series: method, reference: gptq}]
//
// Errors name the file and the key, and say what is wrong.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace loaq::study {

// One grid axis: a quantize option and its values, as strings ("true"/"false" for switches).
struct Axis {
  std::string key;
  std::vector<std::string> values;
};

struct EvalSpec {
  std::vector<std::string> ppl;    // datasets of `loaq eval --ppl`
  int seqlen = 0;                  // 0: the job's calibration seqlen (else eval's default)
  int max_windows = 0;             // 0: all
  std::vector<std::string> tasks;  // zero-shot tasks
  int limit = 0;                   // zero-shot examples per task (0: all)
  bool no_bos = false;
  int batch_tokens = 0;  // 0: eval's default
  // `loaq eval --trace-mse MODEL` (eval/trace_mse.h): the per-sub-layer MSE against the job's
  // source model on held-out C4 windows, as metrics trace_mse.K and trace_mse_norm.K (K = 2·layer,
  // +1 for the MLP: the sub-layer index), drawn by figures with x: sublayer or x: layer (the MLP
  // rows).
  bool trace = false;
  int trace_windows = 0;  // 0: eval's default
};

// A paper-shaped table. kind: methods (Tables 1/7), side_by_side (Tables 2/3/4), ablation
// (Table 5), overhead (Table 6); each kind fills the fields left empty.
struct TableSpec {
  std::string name, title, kind;
  std::string rows;                  // key whose values are the rows (method, ablation, ...)
  std::string sections;              // key with one block per value (model), or empty
  std::string side_by_side;          // key with one column group per value, or empty
  std::vector<std::string> columns;  // metrics
  std::map<std::string, std::string> where;  // only results with these settings
  int digits = 2;
};

// A figure: metric `y` against option `x`, one line per value of `series`, and a horizontal
// line for the `reference` series (a method the x option does not apply to, e.g. GPTQ). With x
// "sublayer" or "layer", y is a traced metric (trace_mse, trace_mse_norm) against its index.
struct FigureSpec {
  std::string name, title, x, y = "wikitext2", series = "method", reference = "gptq";
  std::map<std::string, std::string> where;
  bool logy = false;
};

struct Experiment {
  std::string file;  // the path it was read from
  std::string name, description, out;
  std::vector<std::string> models;
  std::vector<uint64_t> seeds{0};
  std::vector<Axis> quantize;  // in file order
  EvalSpec eval;
  bool keep_models = false;  // keep each job's quantized model (default: removed once evaluated)
  std::vector<TableSpec> tables;
  std::vector<FigureSpec> figures;
};

// Reads and validates an experiment file; throws loaq::Error "FILE: KEY: what is wrong".
Experiment load_experiment(const std::string& path);
// The same from YAML text (`where` names it in errors).
Experiment parse_experiment(const std::string& text, const std::string& where);

// Metrics a table or figure may show: ppl datasets and zero-shot tasks of the evaluation, acc,
// quant_minutes, quant_seconds, peak_rss_gib, and of a low-rank branch branch_mb, branch_pct,
// lowrank_seconds, lowrank_pct_time (job_result.h).
bool is_known_metric(const std::string& m, const EvalSpec& eval);
// The metric name of an evaluation dataset: "wikitext2" stays, a path gives its file stem.
std::string dataset_metric(const std::string& dataset);

}  // namespace loaq::study
