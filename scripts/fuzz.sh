#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz (clang, ASan + UBSan, in build/fuzz) and runs each
# for a bounded time on its committed seed corpus (tests/fuzz/corpus/<harness>, the regression
# inputs included). New inputs go to build/fuzz/corpus/<harness>, never into the repository; a
# crash, a sanitizer report, a timeout or an out-of-memory fails the script, with the input saved
# under build/fuzz/artifacts/.
#   scripts/fuzz.sh [SECONDS_PER_HARNESS (default 30)] [HARNESS...]
#   scripts/fuzz.sh --runs N [HARNESS...]     # N executions each instead (no time bound)
# Harnesses run $(nproc) at a time. $FUZZ_MAX_LEN bounds the input length (default 65536 bytes). Assets: $LOAQ_ASSETS (default ../shared) for the SentencePiece
# model that the tokenizer_config.json harness loads.
set -euo pipefail
cd "$(dirname "$0")/.."
bound=(-max_total_time=30)
what="30 s"
if [ "${1:-}" = "--runs" ]; then
  bound=(-runs="$2")
  what="a bound of $2 runs"
  shift 2
elif [ $# -gt 0 ]; then
  bound=(-max_total_time="$1")
  what="$1 s"
  shift
fi
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(safetensors config tokenizer_json jsonl gguf imatrix experiment resume)

cxx=""
for c in clang++ clang++-14; do
  if command -v "$c" >/dev/null; then cxx=$(command -v "$c"); break; fi
done
if [ -z "$cxx" ]; then
  echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
cmake --preset fuzz -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]}"

assets=${LOAQ_ASSETS:-../shared}
sp_model="$assets/models/stories260K/tokenizer.model"
if [ -f "$sp_model" ]; then
  export LOAQ_FUZZ_SP_MODEL=$(realpath "$sp_model")
else
  echo "fuzz.sh: $sp_model not found: the config harness checks config.json only"
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
tmp=build/fuzz/tmp
mkdir -p build/fuzz/artifacts "$tmp"
export TMPDIR=$(realpath "$tmp")

run_one() {
  local h=$1 work=build/fuzz/corpus/$1
  mkdir -p "$work"
  ./build/fuzz/fuzz_"$h" "$work" "tests/fuzz/corpus/$h" "${bound[@]}" -timeout=20 \
    -rss_limit_mb=2560 -max_len="${FUZZ_MAX_LEN:-65536}" -print_final_stats=1 \
    -artifact_prefix="build/fuzz/artifacts/$h-" >"build/fuzz/$h.log" 2>&1
}

status=0
declare -A running=()  # pid → harness
reap() {  # waits for any one harness and reports a failure
  local pid rc=0
  wait -n -p pid "${!running[@]}" || rc=$?
  if [ $rc -ne 0 ]; then
    status=1
    echo "fuzz.sh: fuzz_${running[$pid]} FAILED:"
    tail -40 "build/fuzz/${running[$pid]}.log"
  fi
  unset "running[$pid]"
}
for h in "${harnesses[@]}"; do
  [ ${#running[@]} -lt "$(nproc)" ] || reap
  run_one "$h" &
  running[$!]=$h
done
while [ ${#running[@]} -gt 0 ]; do reap; done
for h in "${harnesses[@]}"; do
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "build/fuzz/$h.log" | grep -o '[0-9]*$' || echo "?")
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "build/fuzz/$h.log" | grep -o '[0-9]* second' || echo "?")
  echo "fuzz.sh: fuzz_$h: $runs executions (${what}; ${secs}s)"
done
rm -rf "$tmp"
[ $status -eq 0 ] && echo "fuzz.sh: no finding"
exit $status
