#!/usr/bin/env bash
# The main job: installs dependencies, builds loaq, quantizes the default model
# (shared/models/llama-mini-7m) with RTN, GPTQ, GPTAQ, Qronos and LoaQ at 2 and 3 bits
# (channel-wise, 128 C4 calibration windows of 256 tokens) and prints their WikiText-2 / C4
# perplexities against the full-precision model (GPTQ protocol, seqlen 256).
# --docs also writes the table into docs/bench/main-job.md and the README (scripts/sync_docs.sh).
set -euo pipefail
docs=0
[ "${1:-}" = "--docs" ] && docs=1
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)" --target loaq
ASSETS="${LOAQ_ASSETS:-$(cd .. && pwd)/shared}"
MODEL="${LOAQ_MODEL:-$ASSETS/models/llama-mini-7m}"
./build/release/loaq sweep --model "$MODEL" --data "$ASSETS/data" \
  --methods none,rtn,gptq,gptaq,qronos,loaq --wbits 2,3 --nsamples 128 --seqlen 256 \
  --eval wikitext2,c4 -q --json build/release/main_job.json --markdown build/release/main_job.md
echo "all runs: build/release/main_job.json; the table: build/release/main_job.md"
if [ $docs = 1 ]; then
  cp build/release/main_job.md docs/bench/main-job.md
  bash scripts/sync_docs.sh
fi
