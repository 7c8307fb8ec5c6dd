#!/usr/bin/env bash
# The main job: installs dependencies, builds loaq, quantizes the default model
# (shared/models/llama-mini-7m) with RTN, GPTQ, GPTAQ, Qronos and LoaQ at 2 and 3 bits
# (channel-wise, 128 C4 calibration windows of 256 tokens) and prints their WikiText-2 / C4
# perplexities against the full-precision model (GPTQ protocol, seqlen 256).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)" --target loaq
ASSETS="${LOAQ_ASSETS:-$(cd .. && pwd)/shared}"
MODEL="${LOAQ_MODEL:-$ASSETS/models/llama-mini-7m}"
./build/release/loaq sweep --model "$MODEL" --data "$ASSETS/data" \
  --methods none,rtn,gptq,gptaq,qronos,loaq --wbits 2,3 --nsamples 128 --seqlen 256 \
  --eval wikitext2,c4 -q --json build/release/main_job.json
echo "all runs: build/release/main_job.json"
