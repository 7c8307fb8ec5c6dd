#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the release build runs the whole suite
# (unit tests, golden logits/perplexity, bad-input end-to-end tests); the asan build (AddressSanitizer
# + UndefinedBehaviorSanitizer) runs everything but the long perplexity goldens.
# Assets: $LOAQ_ASSETS, default ../shared beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
cmake --preset release
cmake --build --preset release -j "$jobs"
ctest --preset release
cmake --preset asan
cmake --build --preset asan -j "$jobs"
ctest --preset asan -E 'GoldenPpl'
echo "test.sh: all tests passed"
