#!/usr/bin/env bash
# LoaQ's hyper-parameter search as the paper does it (appendix C.2): α over 0…1 step 0.1 first
# (β = 0), then β over 0…1 step 0.05 at the best α. Calibration from the first 937 C4-train
# documents ("c4-head"), scored on the held-out remainder ("c4-heldout"): never on a test set.
# Usage: scripts/tune_loaq.sh [MODEL_DIR] [WBITS] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS="${LOAQ_ASSETS:-$(cd .. && pwd)/shared}"
MODEL="${1:-$ASSETS/models/llama-mini-7m}"
BITS="${2:-2}"
OUT="${3:-build/tune}"
BIN=./build/release/loaq
mkdir -p "$OUT"
COMMON=(--model "$MODEL" --methods loaq --wbits "$BITS" --calib c4-head --nsamples 128 --seqlen 256
        --eval c4-heldout -q)
$BIN sweep "${COMMON[@]}" --alphas 0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1 --betas 0 \
  --json "$OUT/alpha.json" | tee "$OUT/alpha.txt"
best_alpha=$(awk '/^loaq/ {print $5, $3}' "$OUT/alpha.txt" | sort -g | head -1 | awk '{print $2}' | sed 's/^α//')
echo "best α = $best_alpha"
$BIN sweep "${COMMON[@]}" --alphas "$best_alpha" \
  --betas 0,0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9,0.95,1 \
  --json "$OUT/beta.json" | tee "$OUT/beta.txt"
best_beta=$(awk '/^loaq/ {print $5, $4}' "$OUT/beta.txt" | sort -g | head -1 | awk '{print $2}' | sed 's/^β//')
echo "best α = $best_alpha, best β = $best_beta (w$BITS, held-out C4-train perplexity)"
