#!/usr/bin/env bash
# BENCHMARK (not a test): IST-DASLab/gptq's own `fasterquant` on torch CPU against
# `loaq layer --method gptq --wbits 3` on the same W and H, same threads, for Llama-3-8B's o_proj
# (4096 × 4096) and down_proj (4096 × 14336), and the ratio of the two, measured in the same run.
#
#   bench/ref_gptq.sh PATH_TO_GPTQ_CHECKOUT [THREADS=2] [SHAPES="4096x4096 4096x14336"]
#
# PATH_TO_GPTQ_CHECKOUT: a checkout of https://github.com/IST-DASLab/gptq at commit 2d65066
# (never vendored here). Torch is Debian's python3-torch (apt-get install python3-torch), needed by
# this benchmark only. Run from the repository root after `cmake --build --preset release`.
# Memory: about 5 GB at 4096 × 14336 (H is 14336² floats on each side). Work files go to a
# temporary directory, removed at the end.
set -euo pipefail
GPTQ=${1:-}
THREADS=${2:-2}
SHAPES=${3:-"4096x4096 4096x14336"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOAQ=${LOAQ:-$ROOT/build/release/loaq}
PY=${PYTHON:-/usr/bin/python3}  # Debian's python3, where python3-torch installs

if [ -z "$GPTQ" ] || [ ! -f "$GPTQ/gptq.py" ] || [ ! -f "$GPTQ/quant.py" ]; then
  echo "ref_gptq.sh is a benchmark: it needs a checkout of IST-DASLab/gptq (commit 2d65066) as its" >&2
  echo "first argument (a directory holding gptq.py and quant.py); got '${GPTQ}'. Stopping." >&2
  exit 2
fi
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "ref_gptq.sh is a benchmark: it needs torch for python3 (Debian: apt-get install python3-torch)." >&2
  echo "Stopping." >&2
  exit 2
fi
if [ ! -x "$LOAQ" ]; then
  echo "ref_gptq.sh: $LOAQ not found; build it first (cmake --preset release && cmake --build --preset release --target loaq)" >&2
  exit 2
fi
if [ -d "$GPTQ/.git" ] || [ -f "$GPTQ/.git" ]; then
  echo "gptq checkout at $(git -C "$GPTQ" rev-parse --short HEAD 2>/dev/null || echo unknown)"
fi

WORK=$(mktemp -d /tmp/loaq_ref_gptq.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=passive
for shape in $SHAPES; do
  M=${shape%x*}
  N=${shape#*x}
  "$PY" "$ROOT/bench/ref_gptq_driver.py" --gptq "$GPTQ" --rows "$M" --cols "$N" \
    --threads "$THREADS" --out "$WORK" | tee "$WORK/ref.txt"
  start=$(date +%s.%N)
  "$LOAQ" layer --problem "$WORK/problem.safetensors" --method gptq --wbits 3 \
    --threads "$THREADS" --out "$WORK/ours.safetensors" > "$WORK/ours.json"
  end=$(date +%s.%N)
  "$PY" - "$WORK" "$start" "$end" "$M" "$N" "$THREADS" <<'PY'
import json, struct, sys
import torch
work, start, end, M, N, threads = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), *sys.argv[4:]
def read(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        e = h[name]
        f.seek(8 + n + e["data_offsets"][0])
        dt = {"I32": torch.int32, "F32": torch.float32}[e["dtype"]]
        buf = bytearray(f.read(e["data_offsets"][1] - e["data_offsets"][0]))
        return torch.frombuffer(buf, dtype=dt).reshape(e["shape"])
ref = json.load(open(f"{work}/ref.json"))
ours = json.load(open(f"{work}/ours.json"))
a, b = read(f"{work}/ours.safetensors", "codes"), read(f"{work}/ref.safetensors", "codes")
agree = (a == b).double().mean().item()
t_ref, t_cmd = ref["fasterquant_seconds"], float(end) - float(start)
t_solve = ours.get("solve_seconds", t_cmd)
print(f"{M}x{N}, {threads} threads: reference fasterquant {t_ref:.2f} s; loaq solve {t_solve:.2f} s "
      f"({t_ref / t_solve:.2f}x), whole `loaq layer` command {t_cmd:.2f} s ({t_ref / t_cmd:.2f}x); "
      f"identical codes {100 * agree:.3f} %")
PY
done
