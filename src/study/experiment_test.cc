#include "study/experiment.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace loaq::study {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_experiment(yaml, "exp.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Experiment, ParsesGridEvalAndReport) {
  const Experiment e = parse_experiment(R"(
name: t
models: [stories260K]
seeds: [0, 2]
quantize: {method: [gptq, loaq], wbits: 2, no_soa: [false, true]}
eval: {ppl: [wikitext2, /x/small.txt], seqlen: 64, tasks: [piqa], limit: 5}
report:
  tables: [{name: t1, kind: methods}, {name: t5, kind: ablation, side_by_side: rotate}]
  figures: [{name: f2, x: alpha, y: small}]
)",
                                        "exp.yaml");
  EXPECT_EQ(e.seeds, (std::vector<uint64_t>{0, 2}));
  ASSERT_EQ(e.quantize.size(), 3u);
  EXPECT_EQ(e.quantize[2].key, "no-soa");  // underscores are the CLI's hyphens
  EXPECT_EQ(e.quantize[0].values, (std::vector<std::string>{"gptq", "loaq"}));
  EXPECT_EQ(e.eval.limit, 5);
  // The kinds' default columns: perplexities, tasks (methods tables only), Acc.
  EXPECT_EQ(e.tables[0].columns, (std::vector<std::string>{"wikitext2", "small", "piqa", "acc"}));
  EXPECT_EQ(e.tables[1].columns, (std::vector<std::string>{"wikitext2", "small", "acc"}));
  EXPECT_EQ(e.tables[1].rows, "ablation");
  EXPECT_EQ(e.tables[0].sections, "model");
  EXPECT_EQ(e.figures[0].reference, "gptq");
  EXPECT_EQ(e.out, "bench-out/t");
}

TEST(Experiment, ErrorsNameTheFileTheKeyAndTheProblem) {
  const std::string base = "name: t\nmodels: [m]\n";
  EXPECT_NE(error_of(base + "quantize: {method: gptq, wbit: 2}\n")
                .find("exp.yaml:3: quantize.wbit: unknown quantize option"),
            std::string::npos);
  EXPECT_NE(error_of(base + "quantize: {method: gptq, out: x}\n").find("set by the job runner"),
            std::string::npos);
  EXPECT_NE(error_of(base + "quantize: {method: gptq, seed: [1, 2]}\n").find("'seeds:'"),
            std::string::npos);
  EXPECT_NE(error_of(base + "quantize: {method: gptq, sym: maybe}\n").find("true or false"),
            std::string::npos);
  EXPECT_NE(error_of(base + "quantize: {wbits: 2}\n").find("missing 'method'"), std::string::npos);
  EXPECT_NE(error_of(base + "quantize: {method: gptq}\neval: {tasks: [mmlu]}\n")
                .find("unknown task 'mmlu'"),
            std::string::npos);
  EXPECT_NE(error_of(base + "quantize: {method: gptq}\nseeds: [-1]\n").find("non-negative"),
            std::string::npos);
  EXPECT_NE(error_of(base + "quantize: {method: gptq}\nbogus: 1\n").find("bogus: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of(base + "quantize: {method: gptq}\nreport: {tables: [{name: a, columns: "
                            "[c4]}]}\n")
                .find("metric 'c4' is not measured"),
            std::string::npos);
  EXPECT_NE(error_of("name: t\nmodels: [m\n").find("exp.yaml:"), std::string::npos);
  EXPECT_NE(error_of(base + "quantize: {method: [gptq, gptq]}\n").find("repeated value"),
            std::string::npos);
}

}  // namespace
}  // namespace loaq::study
