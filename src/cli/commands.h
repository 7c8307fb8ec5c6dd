#pragma once
// Subcommands of the `loaq` executable. Each registers its options on the CLI11 app and returns
// the function that runs it (exit code).
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace loaq {
struct ExportSummary;
}

namespace loaq::cli {

using Runner = std::function<int()>;

Runner add_eval(CLI::App& app);
Runner add_tokenize(CLI::App& app);
Runner add_quantize(CLI::App& app);
Runner add_sweep(CLI::App& app);
Runner add_layer(CLI::App& app);
Runner add_export(CLI::App& app);
Runner add_inspect(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_calib(CLI::App& app);

// Prints what an export wrote (used by `export` and `quantize --export`).
void print_export_summary(const ExportSummary& s, const std::string& format);

// "a,b,,c" → {"a", "b", "c"}.
std::vector<std::string> split_csv(const std::string& s);

// Folder of the shared assets: $LOAQ_ASSETS, else ../shared next to the source tree.
std::string default_assets_dir();

}  // namespace loaq::cli
