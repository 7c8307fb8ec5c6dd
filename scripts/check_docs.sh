#!/usr/bin/env bash
# Fails when a committed generated table no longer matches what its experiment produces.
#  1. README.md's generated blocks equal their docs/bench/ files (scripts/sync_docs.sh --check).
#  2. The cheap subset (CI): the experiments listed in CHEAP are rerun into a temporary folder
#     (one thread, so that the figures do not depend on the machine's cores) and each of their
#     Markdown tables is compared with the committed docs/bench/EXPERIMENT-TABLE.md.
# --update rewrites the committed tables of the cheap subset instead (then run sync_docs.sh).
# --full also reruns every other experiment with committed tables (long: see README).
# The binary: $LOAQ, default ./build/release/loaq.
set -euo pipefail
cd "$(dirname "$0")/.."
LOAQ=${LOAQ:-./build/release/loaq}
# OpenBLAS picks its kernels by CPU, and they round differently: GPTQ 2-bit on stories260K gives
# C4 912.51 with the Haswell kernels (AVX2: also what AMD Zen 2/3 run) and 918.03 with Cooperlake
# (AVX-512 BF16, e.g. AMD Zen 4). The committed tables are made with Haswell's, which every x86-64
# CPU with AVX2 runs.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
CHEAP=(quick-small)
TIMED=(table6-small)  # tables of measured time: never reproduced to the digit, not rerun
mode=check
[ "${1:-}" = "--update" ] && mode=update
[ "${1:-}" = "--full" ] && mode=full
bash scripts/sync_docs.sh --check
experiments=("${CHEAP[@]}")
if [ $mode = full ]; then
  for f in docs/bench/*.md; do
    n=$(basename "$f" .md)
    best=""  # the longest experiment name that prefixes the file's (figure2-beta-small-...)
    for e in examples/paper/*.yaml; do
      e=$(basename "$e" .yaml)
      case "$n" in "$e"-*) [ ${#e} -gt ${#best} ] && best=$e ;; esac
    done
    [ -n "$best" ] || continue
    [[ " ${TIMED[*]} " == *" $best "* ]] && continue
    [[ " ${experiments[*]} " == *" $best "* ]] || experiments+=("$best")
  done
fi
ASSETS=${LOAQ_ASSETS:-$(cd .. && pwd)/shared}
if [ ! -d "$ASSETS/models/stories260K" ]; then
  echo "check_docs: skipped rerunning the experiments: $ASSETS/models/stories260K not found (set LOAQ_ASSETS)"
  exit 0
fi
echo "check_docs: rerunning ${experiments[*]}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for e in "${experiments[@]}"; do
  nice -n 10 "$LOAQ" bench run "examples/paper/$e.yaml" --out "$tmp/$e" --threads 1 -q --no-report \
    > "$tmp/$e.log" 2>&1 || { cat "$tmp/$e.log" >&2; echo "check_docs: $e failed" >&2; exit 1; }
  "$LOAQ" bench report "$tmp/$e" --docs "$tmp/docs" > /dev/null
  for f in "$tmp/docs/$e"-*.md; do
    committed="docs/bench/$(basename "$f")"
    if [ $mode = update ]; then
      mkdir -p docs/bench
      cp "$f" "$committed"
      echo "check_docs: wrote $committed"
    elif ! cmp -s "$f" "$committed"; then
      echo "check_docs: $committed no longer matches what examples/paper/$e.yaml produces:" >&2
      diff -u "$committed" "$f" >&2 || true
      status=1
    else
      echo "check_docs: $committed matches examples/paper/$e.yaml"
    fi
  done
done
exit $status
