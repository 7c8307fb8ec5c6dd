#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the release build runs the whole suite
# (unit tests, golden logits/perplexity, bad-input end-to-end tests); the asan build (AddressSanitizer
# + UndefinedBehaviorSanitizer) runs everything but the long perplexity and zero-shot goldens. The
# release build has MPI (its `Mpi.*` tests run `mpirun -n 2` and `-n 4`); the asan build is the build
# without MPI (OpenMPI's own allocations are not ours to check), where `Mpi.*` checks that refusal.
# Then the libFuzzer harnesses run 15 s each (scripts/fuzz.sh).
# Tests run two at a time; OpenMP threads wait passively so that they do not spin against each other.
# Assets: $LOAQ_ASSETS, default ../shared beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/install-llama-cpp.sh  # the real llama.cpp for the GGUF tests (build/llama.cpp)
jobs=$(nproc)
cmake --preset release
cmake --build --preset release -j "$jobs"
export OMP_WAIT_POLICY=passive
ctest --preset release -j "$jobs"
bash scripts/check_docs.sh  # the README's generated tables still match their experiments
cmake --preset asan
cmake --build --preset asan -j "$jobs"
OMP_NUM_THREADS=1 ctest --preset asan -j "$jobs" -E 'GoldenPpl|GoldenZeroshot\.(Stories260K|LlamaMini7m)'
# The fuzz harnesses (clang, ASan + UBSan), each for a short time on its committed corpus.
bash scripts/fuzz.sh 15
echo "test.sh: all tests passed"
