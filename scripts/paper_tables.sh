#!/usr/bin/env bash
# The paper's comparison tables on one model (calibration 128 C4 windows of 256 tokens, channel-wise
# weights, WikiText-2 / C4 perplexity at seqlen 256), each as one `loaq sweep` whose table and JSON
# (every run, with its wall time) land in OUT_DIR:
#   table2       GPTQ, GPTAQ, Qronos, LoaQ at 2 and 3 bits, without and with Hadamard (paper Table 2)
#   table3       the same at 2 bits with NeUQI grids, without and with Hadamard        (paper Table 3)
#   table4       W4A4 (4-bit weights, 4-bit per-token activations), without and with Hadamard (Table 4)
# Usage: scripts/paper_tables.sh [MODEL_DIR] [OUT_DIR] [SEEDS] [TABLES]
#   SEEDS: calibration seeds, comma-separated (default 0); TABLES: e.g. "table2 table4" (default all).
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS="${LOAQ_ASSETS:-$(cd .. && pwd)/shared}"
MODEL="${1:-$ASSETS/models/llama-mini-7m}"
OUT="${2:-build/tables/$(basename "$MODEL")}"
SEEDS="${3:-0}"
TABLES="${4:-table2 table3 table4}"
BIN=./build/release/loaq
[ -x "$BIN" ] || { cmake --preset release >/dev/null && cmake --build --preset release --target loaq; }
mkdir -p "$OUT"
COMMON=(--model "$MODEL" --data "$ASSETS/data" --methods gptq,gptaq,qronos,loaq --seeds "$SEEDS"
        --nsamples 128 --seqlen 256 --eval wikitext2,c4 -q)
run() {  # name, extra flags...
  local name=$1; shift
  echo "== $name: loaq sweep ${COMMON[*]} $*"
  local t0=$SECONDS
  $BIN sweep "${COMMON[@]}" "$@" --json "$OUT/$name.json" | tee "$OUT/$name.txt"
  echo "($name: $((SECONDS - t0)) s)" | tee -a "$OUT/$name.txt"
}
for t in $TABLES; do
  case $t in
    table2) run table2 --wbits 2,3
            run table2-hadamard --wbits 2,3 --rotate hadamard ;;
    table3) run table3-neuqi --wbits 2 --grid neuqi
            run table3-neuqi-hadamard --wbits 2 --grid neuqi --rotate hadamard ;;
    table4) run table4-w4a4 --wbits 4 --abits 4
            run table4-w4a4-hadamard --wbits 4 --abits 4 --rotate hadamard ;;
    *) echo "unknown table '$t' (table2, table3, table4)" >&2; exit 2 ;;
  esac
done
