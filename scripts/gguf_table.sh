#!/usr/bin/env bash
# Issue 15's table: loaq's solvers against llama.cpp's own quantizer at llama.cpp's block types,
# every GGUF measured by llama.cpp's `llama-perplexity` (WikiText-2 test, -c 256).
#
#   bash scripts/gguf_table.sh [--out DIR] [--docs FILE.md]
#
# Rows, for each type in $TYPES (a llama-quantize file type):
#   llama-quantize            of loaq's F32 export, no imatrix (deterministic: one run);
#   llama-quantize + imatrix  `llama-imatrix` on the calibration text of seed s (`loaq calib`: the
#                             same C4 windows loaq quantize draws, decoded), for each seed;
#   loaq METHOD               `loaq quantize --method METHOD --grid gguf:TYPE --gguf-fit FIT` from the
#                             same windows, exported with `loaq export --format gguf --type TYPE`,
#                             for each seed and each FIT of $FITS (imatrix, the default, and/or
#                             unweighted; the unweighted rows are keyed METHOD-unweighted).
# Every step writes under a temporary name and is skipped when its output exists: a stopped run
# resumes. The table (mean ± sample sd over the seeds, file sizes) is printed and, with --docs,
# written there (a generated block of the README: scripts/sync_docs.sh copies it).
#
# Environment: MODEL (default $LOAQ_ASSETS/models/llama-mini-7m), TYPES ("Q2_K Q3_K_M Q4_K_M"),
# SEEDS ("0 1 2"), METHODS ("gptq loaq"), FITS ("imatrix"), NSAMPLES (128), SEQLEN (256), THREADS (1),
# LOAQ (./build/release/loaq), LLAMA_BIN (build/llama.cpp/bin, from scripts/install-llama-cpp.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench-out/gguf-table
docs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --docs) docs=$2; shift 2 ;;
    *) echo "gguf_table: unknown argument $1" >&2; exit 2 ;;
  esac
done
ASSETS=${LOAQ_ASSETS:-$(cd .. && pwd)/shared}
export LOAQ_ASSETS=$ASSETS
MODEL=${MODEL:-$ASSETS/models/llama-mini-7m}
TYPES=${TYPES:-Q2_K Q3_K_M Q4_K_M}
SEEDS=${SEEDS:-0 1 2}
METHODS=${METHODS-gptq loaq}
FITS=${FITS:-imatrix}
# The row keys of the solved files: METHOD for the imatrix fit, METHOD-unweighted for the other.
solved_keys=()
for m in $METHODS; do
  for fit in $FITS; do solved_keys+=("$m:$fit:$m$([ "$fit" = imatrix ] || echo "-$fit")"); done
done
NSAMPLES=${NSAMPLES:-128}
SEQLEN=${SEQLEN:-256}
THREADS=${THREADS:-1}
LOAQ=$(realpath "${LOAQ:-./build/release/loaq}")
BIN=$(realpath "${LLAMA_BIN:-build/llama.cpp/bin}")
WIKI=$ASSETS/data/wikitext2/wiki.test.raw
for t in llama-quantize llama-imatrix llama-perplexity; do
  [ -x "$BIN/$t" ] || { echo "gguf_table: $BIN/$t missing: run scripts/install-llama-cpp.sh" >&2; exit 1; }
done
[ -f "$WIKI" ] || { echo "gguf_table: $WIKI not found (set LOAQ_ASSETS)" >&2; exit 1; }
mkdir -p "$out/ppl"
out=$(realpath "$out")
export OMP_NUM_THREADS=$THREADS
# llama.cpp's tools find their CPU backend next to them: run them from their folder.
llama() { (cd "$BIN" && "./$@"); }

f32=$out/f32.gguf
if [ ! -f "$f32" ]; then
  "$LOAQ" export --format gguf --type F32 --force --out "$f32.tmp.gguf" "$MODEL" >/dev/null
  mv "$f32.tmp.gguf" "$f32"
fi

# perplexity KEY FILE: llama-perplexity's final estimate into ppl/KEY ("PPL ± BYTES").
perplexity() {
  local key=$1 file=$2 res=$out/ppl/$1
  [ -f "$res" ] && return 0
  echo "gguf_table: llama-perplexity $key"
  llama llama-perplexity -m "$file" -f "$WIKI" -c 256 -t "$THREADS" >"$out/ppl/$key.log" 2>&1 || {
    echo "gguf_table: llama-perplexity failed on $file: see $out/ppl/$key.log" >&2; exit 1; }
  local line
  line=$(grep -o 'Final estimate: PPL = [0-9.]* +/- [0-9.]*' "$out/ppl/$key.log") || {
    echo "gguf_table: no final estimate in $out/ppl/$key.log" >&2; exit 1; }
  echo "$(echo "$line" | awk '{print $5, $7}') $(stat -c %s "$file")" >"$res.tmp"
  mv "$res.tmp" "$res"
}

for s in $SEEDS; do
  [ -f "$out/calib-$s.txt" ] || "$LOAQ" calib --model "$MODEL" --nsamples "$NSAMPLES" \
    --seqlen "$SEQLEN" --seed "$s" --out "$out/calib-$s.txt" >/dev/null
  if [ ! -f "$out/imatrix-$s.gguf" ]; then
    echo "gguf_table: llama-imatrix seed $s"
    llama llama-imatrix -m "$f32" -f "$out/calib-$s.txt" -c "$SEQLEN" --chunks "$NSAMPLES" \
      -t "$THREADS" -o "$out/imatrix-$s.tmp.gguf" >"$out/imatrix-$s.log" 2>&1
    mv "$out/imatrix-$s.tmp.gguf" "$out/imatrix-$s.gguf"
  fi
done

for t in $TYPES; do
  g=$out/llama-quantize-$t.gguf
  if [ ! -f "$g" ]; then
    llama llama-quantize "$f32" "$g.tmp" "$t" 1 >"$out/llama-quantize-$t.log" 2>&1
    mv "$g.tmp" "$g"
  fi
  perplexity "llama-quantize-$t" "$g"
  for s in $SEEDS; do
    g=$out/imatrix-$t-$s.gguf
    if [ ! -f "$g" ]; then
      llama llama-quantize --imatrix "$out/imatrix-$s.gguf" "$f32" "$g.tmp" "$t" 1 \
        >"$out/imatrix-$t-$s.log" 2>&1
      mv "$g.tmp" "$g"
    fi
    perplexity "imatrix-$t-$s" "$g"
    for mk in "${solved_keys[@]}"; do
      m=${mk%%:*} fit=${mk#*:} k=${mk##*:}
      fit=${fit%%:*}
      g=$out/$k-$t-$s.gguf
      if [ ! -f "$g" ]; then
        echo "gguf_table: loaq quantize --method $m --grid gguf:$t --gguf-fit $fit --seed $s"
        "$LOAQ" quantize --model "$MODEL" --method "$m" --grid "gguf:$t" --gguf-fit "$fit" \
          --nsamples "$NSAMPLES" --seqlen "$SEQLEN" --seed "$s" --threads "$THREADS" \
          --out "$out/q-$k-$t-$s" --force -q >"$out/$k-$t-$s.log" 2>&1
        "$LOAQ" export --format gguf --type "$t" --force --out "$g.tmp.gguf" "$out/q-$k-$t-$s" \
          >>"$out/$k-$t-$s.log" 2>&1
        mv "$g.tmp.gguf" "$g"
        rm -rf "$out/q-$k-$t-$s"
      fi
      perplexity "$k-$t-$s" "$g"
    done
  done
done

# The table: one row per quantizer, per type PPL mean ± sd over the seeds and the file size.
table=$(mktemp)
{
  printf '**llama.cpp'"'"'s `llama-perplexity` (WikiText-2 test, `-c 256`) of %s GGUF files**\n\n' \
    "$(basename "$MODEL")"
  printf '| quantizer |'
  for t in $TYPES; do printf ' %s PPL↓ | %s MB |' "$t" "$t"; done
  printf '\n|---|'
  for t in $TYPES; do printf -- '---|---|'; done
  printf '\n'
  rows=("llama-quantize:llama-quantize, no imatrix" "imatrix:llama-quantize + llama-imatrix")
  for mk in "${solved_keys[@]}"; do
    m=${mk%%:*} fit=${mk#*:} k=${mk##*:}
    fit=${fit%%:*}
    rows+=("$k:loaq $m ($fit fit)")
  done
  for r in "${rows[@]}"; do
    key=${r%%:*}
    printf '| %s |' "${r#*:}"
    for t in $TYPES; do
      files=()
      if [ "$key" = llama-quantize ]; then files=("$out/ppl/llama-quantize-$t")
      else for s in $SEEDS; do files+=("$out/ppl/$key-$t-$s"); done; fi
      cat "${files[@]}" | awk '
        { p[NR] = $1; sum += $1; bytes += $3 }
        END {
          m = sum / NR; v = 0
          for (i = 1; i <= NR; i++) v += (p[i] - m) ^ 2
          if (NR > 1) printf " %.2f ± %.2f |", m, sqrt(v / (NR - 1)); else printf " %.2f |", m
          printf " %.3f |", bytes / NR / 1e6
        }'
    done
    printf '\n'
  done
  n=$(echo $SEEDS | wc -w)
  printf '\nMean ± sample sd over %s calibration seeds (%s; %s C4 windows of %s tokens); the row without\n' \
    "$n" "$(echo $SEEDS | tr ' ' ,)" "$NSAMPLES" "$SEQLEN"
  printf 'imatrix is one deterministic run. `bash scripts/gguf_table.sh`.\n'
} >"$table"
cat "$table"
if [ -n "$docs" ]; then
  mkdir -p "$(dirname "$docs")"
  cp "$table" "$docs.tmp" && mv "$docs.tmp" "$docs"
fi
rm -f "$table"
