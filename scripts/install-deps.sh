#!/usr/bin/env bash
# Installs the Debian packages loaq needs to build and test. Idempotent; works as root or through sudo.
# clang, libclang-rt-14-dev (libFuzzer) and libomp-14-dev (OpenMP for clang) build the fuzz harnesses.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config git
  libopenblas-openmp-dev liblapacke-dev libdnnl-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libsentencepiece-dev libpcre2-dev libicu-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenmpi-dev openmpi-bin
  libyaml-cpp-dev gnuplot-nox
  clang libclang-rt-14-dev libomp-14-dev
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
