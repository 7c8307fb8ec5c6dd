#!/usr/bin/env bash
# The main job: installs dependencies, builds loaq, and evaluates the default model
# (shared/models/llama-mini-7m) on WikiText-2 and C4 with the GPTQ perplexity protocol.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)" --target loaq
ASSETS="${LOAQ_ASSETS:-$(cd .. && pwd)/shared}"
MODEL="${LOAQ_MODEL:-$ASSETS/models/llama-mini-7m}"
./build/release/loaq eval --model "$MODEL" --ppl wikitext2,c4 --seqlen 256 --json build/release/eval.json
echo "results: build/release/eval.json"
