// `loaq quantize`: layer-wise quantization of a checkpoint with one method, streamed one decoder
// layer at a time into the output directory (pipeline/output.h) with a resume state after every
// layer, then optional perplexity evaluation of the written output.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <memory>

#include "cli/commands.h"
#include "cli/quant_options.h"
#include "cli/run_checks.h"
#include "core/env.h"
#include "core/error.h"
#include "core/memory.h"
#include "dist/dist.h"
#include "dist/report.h"
#include "eval/ppl_suite.h"
#include "export/export.h"
#include "export/shards.h"
#include "io/atomic_file.h"
#include "io/output_target.h"
#include "pipeline/memory_plan.h"
#include "pipeline/output.h"
#include "pipeline/quantize.h"
#include "pipeline/ranks.h"
#include "pipeline/resume.h"
#include "text/tokenizer.h"

namespace loaq::cli {

namespace {

struct QuantizeArgs {
  std::string model, out, data, eval, json, max_memory, max_shard = "5GB";
  std::string export_format, export_dir;  // --export gptq|hf: also export the output
  int64_t eval_seqlen = 0, stop_after_layer = -1;
  bool force = false, resume = false, no_bos = false, quiet = false;
  int threads = 0;
  QuantArgs q;
};

int run_quantize(const QuantizeArgs& a) {
  using Clock = std::chrono::steady_clock;
  set_num_threads(a.threads);
  check_output_target(a.out, a.force, OutputKind::kQuantize, {a.model});
  const std::string export_dir =
      a.export_dir.empty() ? a.out + "-" + a.export_format : a.export_dir;
  if (!a.export_format.empty())
    check_output_target(export_dir, a.force,
                        a.export_format == "gptq" ? OutputKind::kGptqExport : OutputKind::kHfExport,
                        {a.model, a.out}, "--export-dir");
  const std::string data = a.data.empty() ? default_assets_dir() + "/data" : a.data;
  const int64_t max_memory =
      a.max_memory.empty() ? 0 : int64_t(parse_memory_size(a.max_memory, "--max-memory"));
  const uint64_t max_shard = parse_size(a.max_shard);
  if (max_shard > uint64_t(std::numeric_limits<int64_t>::max()))
    fail("--max-shard-size {}: too large", a.max_shard);
  AnonPeakSampler anon;
  anon.start();
  const auto t0 = Clock::now();
  const Checkpoint ckpt(a.model);
  const auto tok = load_model_tokenizer(a.model, ckpt.config());
  const ModelConfig& mc = ckpt.config();
  const QuantizeConfig qc = to_quantize_config(a.q, a.q.method, a.q.wbits, !a.quiet);
  warn_ragged_groups(mc, qc.grid.group);
  const CalibConfig cc = to_calib_config(a.q, mc.max_position_embeddings);
  auto t = Clock::now();
  const double t_load = std::chrono::duration<double>(t - t0).count();
  const CalibSet calib = !method_needs_calibration(qc)
                             ? CalibSet{0, cc.seqlen, {}, "none (method uses no calibration data)"}
                             : sample_calibration(*tok, cc, data);
  const double t_calib = std::chrono::duration<double>(Clock::now() - t).count();

  const MemoryPlan plan = plan_quantize(mc, qc, calib.nsamples, calib.seqlen, dist::size());
  const bool root = dist::is_root();  // on several ranks, rank 0 prints and writes
  if (!a.quiet && root)
    fmt::print(stderr, "{}{}\n", format_plan(plan),
               dist::size() > 1 ? fmt::format(" per rank ({} ranks)", dist::size()) : "");
  check_plan(plan, max_memory);

  const nlohmann::ordered_json settings = quant_settings_json(qc, calib);
  OutputOptions oo;
  oo.out_dir = a.out;
  oo.force = a.force;
  oo.resume = a.resume;
  oo.quiet = a.quiet;
  oo.max_shard_bytes = int64_t(max_shard);
  QuantOutput out(ckpt, qc, oo, run_fingerprint(ckpt, calib, settings));
  DriverOptions opt;
  opt.stop_after_layer = a.stop_after_layer;
  const int64_t my_windows =
      calib.nsamples > 0 ? WindowShare(calib.nsamples, qc.chunk_samples).windows() : 0;
  const auto resumed = out.resumed(my_windows, calib.seqlen, method_info(qc.method).fp_stream);
  if (resumed) {
    opt.resume = &resumed->streams;
    opt.resumed_report = resumed->report;
  }
  QuantizeReport rep;
  try {
    rep = quantize_layers(ModelSource(ckpt), calib, qc, out, opt);
  } catch (const StopAfterLayer& s) {
    if (root)
      fmt::print(stderr,
                 "loaq: stopped after layer {} (--stop-after-layer); continue with --resume\n",
                 s.layer);
    return 75;
  }
  t = Clock::now();
  const std::string dir = root ? out.assemble() : out.partial_dir();
  if (dist::size() > 1) dist::barrier();  // the written output, read by every rank's evaluation
  const double t_write = std::chrono::duration<double>(Clock::now() - t).count();

  nlohmann::ordered_json report;
  report["model"] = a.model;
  report["settings"] = settings;
  // The output's layout, not a setting of the run: left out of the resume fingerprint (a run may
  // resume with another shard size), and recorded only when it is not the default, so the
  // settings of every run that keeps the default stay as they were.
  if (max_shard != kDefaultShardBytes)
    report["settings"]["output"] = {{"max_shard_bytes", max_shard}};
  report["timings"] = rep.timings;
  report["timings"]["load"] = t_load;
  report["timings"]["calibration_sampling"] = t_calib;
  report["timings"]["write"] = t_write;
  if (rep.rotation) report["rotation"] = rotation_json(*rep.rotation);
  report["stream_bytes"] = rep.stream_bytes;
  report["cache_bytes"] = rep.cache_bytes;
  report["linears"] = report_to_json(rep)["linears"];

  const auto datasets = split_csv(a.eval);
  if (!datasets.empty()) {  // the written output itself, streamed from its files
    t = Clock::now();
    const Checkpoint written(dir);
    PplSuiteOptions po;
    po.datasets = datasets;
    po.data_dir = data;
    po.seqlen = a.eval_seqlen > 0 ? a.eval_seqlen : cc.seqlen;
    po.bos = !a.no_bos && tok->add_bos;
    po.progress = !a.quiet;
    const auto res = run_ppl_suite(ModelSource(written), prepare_eval_streams(*tok, po), po);
    report["eval_settings"] = {{"seqlen", po.seqlen}, {"bos", po.bos}};
    add_ppl_json(report, res);
    report["timings"]["eval"] = std::chrono::duration<double>(Clock::now() - t).count();
    for (const auto& p : res)
      if (root)
        fmt::print("{} {}-bit  {:<10} ppl {:.4f}\n", method_name(qc.method), qc.grid.bits, p.name,
                   p.r.ppl);
  }
  anon.stop();
  report["memory"] = {
      {"plan", plan_json(plan)}, {"peak_rss", peak_rss_bytes()}, {"peak_anon", anon.peak_bytes()}};
  // Several ranks: R, the collectives' totals per rank, and their traffic per decoder layer.
  report["distributed"] = dist::report_json();  // a collective: every rank calls it
  if (!rep.comm.empty()) report["distributed"]["per_layer"] = comm_to_json(rep.comm);
  {  // each rank's peak memory and stream bytes (a collective)
    const int R = dist::size();
    std::vector<double> per(size_t(2 * R), 0.0);
    per[size_t(2 * dist::rank())] = double(peak_rss_bytes());
    per[size_t(2 * dist::rank() + 1)] = double(rep.stream_bytes);
    std::vector<dist::Range> ranges;
    for (int r = 0; r < R; ++r) ranges.push_back({r, r + 1});
    dist::allgather(per, ranges, 2);
    for (int r = 0; r < R; ++r) {
      report["distributed"]["per_rank"][size_t(r)]["peak_rss"] = int64_t(per[size_t(2 * r)]);
      report["distributed"]["per_rank"][size_t(r)]["stream_bytes"] =
          int64_t(per[size_t(2 * r + 1)]);
    }
  }
  if (!root) return 0;
  out.commit(report);
  if (!a.json.empty()) write_file_atomic(a.json, report.dump(2) + "\n");
  fmt::print("wrote {} ({:.1f} s)\n", a.out,
             std::chrono::duration<double>(Clock::now() - t0).count());
  if (!a.export_format.empty()) {
    ExportOptions eo;
    eo.format = a.export_format;
    eo.force = a.force;
    print_export_summary(export_checkpoint(a.out, export_dir, eo), eo.format);
  }
  return 0;
}

}  // namespace

Runner add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  auto* cmd = app.add_subcommand("quantize", "Quantize a checkpoint layer by layer");
  cmd->add_option("--model", a->model, "Hugging Face model directory")->required();
  cmd->add_option("--out", a->out, "Output directory")->required();
  cmd->add_flag("--force", a->force,
                "Replace an existing output directory (or discard a partial one)");
  cmd->add_flag(
      "--resume", a->resume,
      "Continue an interrupted run from OUT.partial/ (same model, calibration and settings)");
  cmd->add_option("--max-memory", a->max_memory,
                  "Refuse to start when the memory plan exceeds this (e.g. 20G)");
  cmd->add_option("--max-shard-size", a->max_shard,
                  "Largest safetensors file of the output (e.g. 5GB, 500MB): past it the model "
                  "and the integer state are written as shards with an index, one per layer")
      ->capture_default_str();
  cmd->add_option("--stop-after-layer", a->stop_after_layer,
                  "Stop (exit 75) once this decoder layer is saved: for testing --resume")
      ->group("");
  add_quant_options(cmd, a->q);
  cmd->add_option("--eval", a->eval,
                  "Evaluate perplexity after quantizing: wikitext2,c4,ptb or files");
  cmd->add_option("--eval-seqlen", a->eval_seqlen,
                  "Evaluation window (default: the calibration seqlen)")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 30));
  cmd->add_flag("--no-bos", a->no_bos, "Evaluate without BOS");
  cmd->add_option("--data", a->data, "Datasets folder (default: $LOAQ_ASSETS/data)");
  cmd->add_option("--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("--json", a->json, "Also write the report to this file");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress bars");
  cmd->add_option("--export", a->export_format,
                  "Also export the output: gptq or hf (see `loaq export`)")
      ->check(CLI::IsMember({"gptq", "hf"}));
  cmd->add_option("--export-dir", a->export_dir,
                  "Directory of the export (default: OUT-gptq / OUT-hf)");
  return [a] { return run_quantize(*a); };
}

}  // namespace loaq::cli
