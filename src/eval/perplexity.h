#pragma once
// Perplexity by the GPTQ protocol (shared/golden/README.md): the whole text tokenized once, one BOS
// at the start of the stream when the tokenizer adds BOS, windows ids[i·seqlen, (i+1)·seqlen)
// evaluated independently from position 0, the tail dropped, ppl = exp(mean NLL over the
// seqlen-1 predictions of every window).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/source.h"

namespace loaq {

struct PplOptions {
  int64_t seqlen = 2048;
  int64_t max_windows = 0;       // 0: all windows
  int64_t batch_tokens = 4096;   // windows are run in batches of about this many tokens
  // Hidden states of the windows held at once: the windows run layer-major in groups of at most
  // this many bytes (at least one batch), each group reading every layer once.
  int64_t hidden_bytes = int64_t(4) << 30;
  bool progress = true;
  std::string label = "ppl";
};

struct PplResult {
  int64_t n_tokens = 0;             // length of the id stream evaluated (after any cap)
  int64_t n_windows = 0;            // windows evaluated
  int64_t n_windows_available = 0;  // floor(n_tokens / seqlen)
  int64_t predicted_tokens = 0;     // n_windows · (seqlen - 1)
  double mean_nll = 0;
  double ppl = 0;
  double seconds = 0;
  std::vector<double> window_nll;   // mean NLL of each window
};

// Negative log-likelihood of each next token: for row t < rows-1 of logits [rows, V] (one window),
// nll[t] = logsumexp(logits[t]) − logits[t][ids[t+1]], in double.
void next_token_nll(const Tensor& logits, int64_t row0, int64_t rows, std::span<const int32_t> ids,
                    double* nll);

// Perplexity of the id stream by the protocol above, layer-major (one decoder layer resident);
// logits and log-softmax one window at a time. Throws if not one window fits.
PplResult perplexity(const ModelSource& m, std::span<const int32_t> ids, const PplOptions& o);

}  // namespace loaq
