#!/usr/bin/env bash
# Installs the real llama.cpp for the tests that check loaq's GGUF files against it (never vendored):
# npm's node-llama-cpp ships prebuilt CPU libraries and the matching llama.cpp source as a git
# bundle; the tools the tests run are compiled with g++ against those libraries:
#   llama-quantize, llama-perplexity, llama-imatrix  (llama.cpp's own tools/)
#   llama-logits                                     (ours: tools/llama_logits.cc)
# Layout, under build/llama.cpp (or $1):
#   node_modules/...            the npm packages, exact versions
#   src/                        the llama.cpp source cloned from the bundle
#   bin/                        the tools, plus links to the ggml CPU backends, which ggml loads
#                               from the executable's folder (without them the tools exit 1 silently)
# Idempotent: a rerun with everything in place only checks it (under a second); a tool is rebuilt
# when its source is newer.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
NLC_VERSION=3.21.1
dir=${1:-build/llama.cpp}
mkdir -p "$dir"
dir=$(realpath "$dir")

if ! command -v npm >/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "install-llama-cpp: installing nodejs and npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi

pkg=$dir/node_modules/node-llama-cpp/package.json
libs=$dir/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
if ! [ -f "$pkg" ] || ! grep -q "\"version\": \"$NLC_VERSION\"" "$pkg" || ! [ -d "$libs" ]; then
  echo "install-llama-cpp: npm install node-llama-cpp@$NLC_VERSION into $dir"
  [ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
  (cd "$dir" && npm install -E --omit=optional --no-audit --no-fund --silent \
    "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION")
fi
[ -d "$libs" ] || { echo "install-llama-cpp: $libs missing after npm install" >&2; exit 1; }

bundle=$dir/node_modules/node-llama-cpp/llama/gitRelease.bundle
src=$dir/src
want=$(git bundle list-heads "$bundle" | head -1 | cut -d' ' -f1)
if ! [ -d "$src/.git" ] || [ "$(git -C "$src" rev-parse HEAD)" != "$want" ]; then
  echo "install-llama-cpp: cloning the llama.cpp source from $bundle"
  rm -rf "$src"
  git -c advice.detachedHead=false clone -q "$bundle" "$src"
  git -C "$src" -c advice.detachedHead=false checkout -q "$want"
fi

bin=$dir/bin
mkdir -p "$bin"
for so in "$libs"/libggml-cpu-*.so; do ln -sf "$so" "$bin/$(basename "$so")"; done

flags=(-std=c++17 -O2 -I"$src/include" -I"$src/ggml/include" -I"$src/common" -I"$src/vendor")
link=(-L"$libs" -l:libllama.v0.4.0.so -l:libllama-common.so -l:libggml.v0.4.0.so -l:libggml-base.so
  -lpthread "-Wl,-rpath,$libs")
build() {  # build NAME WARNING-FLAGS SOURCE...
  local name=$1 warn=$2 out=$bin/$1 newer=0
  shift 2
  if [ -x "$out" ]; then
    for s in "$@"; do [ "$s" -nt "$out" ] && newer=1; done
  else
    newer=1
  fi
  [ $newer -eq 0 ] && return 0
  echo "install-llama-cpp: compiling $name"
  g++ "${flags[@]}" $warn "$@" -o "$out.tmp" "${link[@]}"
  mv "$out.tmp" "$out"
}
# llama.cpp's sources with its warnings off; ours with warnings as errors, as in the CMake build.
build llama-quantize -w "$src/tools/quantize/quantize.cpp" "$src/tools/quantize/main.cpp"
build llama-perplexity -w "$src/tools/perplexity/perplexity.cpp" "$src/tools/perplexity/main.cpp"
build llama-imatrix -w "$src/tools/imatrix/imatrix.cpp"
build llama-logits "-Wall -Wextra -Werror" "$repo/tools/llama_logits.cc"

# A smoke test: the tools start (their libraries resolve).
help=$("$bin/llama-quantize" --help 2>&1 || true)
[[ $help == *usage* ]] || { echo "install-llama-cpp: $bin/llama-quantize does not run" >&2; exit 1; }
echo "install-llama-cpp: llama.cpp tools in $bin"
