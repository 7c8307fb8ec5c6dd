#!/usr/bin/env bash
# Projected wall time of `mpirun -n R loaq quantize --method loaq|gptq` on a large model, one rank per
# node, from FLOP counts, the rates measured on this CPU, and the communication volume of
# src/dist's collectives (README "Running on several processes"). Every input is a variable below;
# override on the command line, e.g. `NODE_CORES=32 GBPS=25 bash scripts/mpi_projection.sh`.
set -euo pipefail
METHOD=${METHOD:-loaq}
# Model (Llama-3-70B) and calibration (128 × 2048).
H=${H:-8192} I=${I:-28672} KV=${KV:-1024} LAYERS=${LAYERS:-80} WINDOWS=${WINDOWS:-128} SEQ=${SEQ:-2048}
# Rates measured here (README "Speed"): sgemm peak of 2 cores, and the fraction of it reached by a
# decoder-layer forward (77 %), the Hessian accumulation (47 %) and the GPTQ solve (12.8 %, N = 4096).
PEAK_2CORES=${PEAK_2CORES:-317.8e9} EFF_FWD=${EFF_FWD:-0.77} EFF_STATS=${EFF_STATS:-0.47} EFF_SOLVE=${EFF_SOLVE:-0.128}
# Assumed: a node of NODE_CORES cores at the per-core rate measured here; the network's bandwidth.
NODE_CORES=${NODE_CORES:-64} GBPS=${GBPS:-100}
# Assumed: passes of the calibration tokens through each linear per layer (LoaQ: two streams, a
# statistics pass and an advance each; GPTQ: one stream).
PASSES=${PASSES:-$([ "$METHOD" = loaq ] && echo 4 || echo 2)}
awk -v m="$METHOD" -v h="$H" -v i="$I" -v kv="$KV" -v L="$LAYERS" -v W="$WINDOWS" -v s="$SEQ" \
    -v peak2="$PEAK_2CORES" -v ef="$EFF_FWD" -v es="$EFF_STATS" -v eq="$EFF_SOLVE" \
    -v cores="$NODE_CORES" -v gbps="$GBPS" -v passes="$PASSES" 'BEGIN {
  T = W * s; loaq = (m == "loaq")
  node = peak2 / 2 * cores                       # FLOP/s of one node
  bw = gbps / 8 * 1e9                            # bytes/s per link
  P = h * (h + 2 * kv) + h * h + 3 * h * i       # linear parameters of one layer
  fwd = passes * (2 * T * P + 4 * T * s * h)     # linears + attention (QK^T, AV)
  # statistics: H (SYRK: T N^2), C (2 T N^2), S (2 T N h) of each group
  stats = loaq ? T * (11 * h * h + 3 * i * i + 2 * i * h) : T * (3 * h * h + i * i)
  # solve per group: GPTQ M N^2 + 4/3 N^3; LoaQ adds its target, H Y = C W^T: 4 M N^2 + N^3/3
  split("qkv o gateup down", g, " ")
  M["qkv"] = h + 2 * kv; N["qkv"] = h; M["o"] = h; N["o"] = h
  M["gateup"] = 2 * i; N["gateup"] = h; M["down"] = h; N["down"] = i
  # (the groups are solved one after another: the statistics of a group need the quantized stream
  # through the groups before it)
  rows = 0; cube = 0
  for (k = 1; k <= 4; ++k) { x = g[k]
    rows += (loaq ? 5 : 1) * M[x] * N[x] ^ 2 / (eq * node)
    cube += (loaq ? 5 / 3 : 4 / 3) * N[x] ^ 3 / (eq * node)
    sol[x] = ((loaq ? 5 : 1) * M[x] * N[x] ^ 2 + (loaq ? 5 / 3 : 4 / 3) * N[x] ^ 3) / (eq * node) }
  # bytes per layer: each statistics matrix along the chain (one buffer per link, pipelined) plus
  # the delivery hop to its owner (all but down_proj, owned by the chain end); weights broadcast
  # (fp32, about two buffer times for a pipelined broadcast)
  # As built (pipeline/ranks.h): each linear is solved by its own owner with its own factorization;
  # the linears of a group (q, k, v; gate, up) go longest first to the least-loaded rank
  # (dist::assign_owners), so a group takes the time of the most loaded rank.
  nl = split("q k v o gate up down", lin, " ")
  grp["q"] = "qkv"; grp["k"] = "qkv"; grp["v"] = "qkv"; grp["o"] = "o"; grp["gate"] = "gateup"
  grp["up"] = "gateup"; grp["down"] = "down"
  LM["q"] = h; LM["k"] = kv; LM["v"] = kv; LM["o"] = h; LM["gate"] = i; LM["up"] = i; LM["down"] = h
  for (k = 1; k <= nl; ++k) { x = lin[k]; n_ = N[grp[x]]
    lsol[x] = ((loaq ? 5 : 1) * LM[x] * n_ ^ 2 + (loaq ? 5 / 3 : 4 / 3) * n_ ^ 3) / (eq * node) }
  sb = loaq ? 8 * (7 * h * h + 2 * i * i + i * h) : 8 * (3 * h * h + i * i)
  hop = loaq ? 8 * 7 * h * h : 8 * 3 * h * h
  wb = 4 * P
  printf "%s, %d layers, %d x %d tokens, node %d cores = %.2f TFLOP/s, %g Gb/s\n", m, L, W, s, cores, node / 1e12, gbps
  printf "per layer: forward %.3g FLOP, statistics %.3g FLOP, solves (s on one node) qkv %.1f o %.1f gate/up %.1f down %.1f\n", fwd, stats, sol["qkv"], sol["o"], sol["gateup"], sol["down"]
  printf "per layer: statistics reduced %.2f GB, weights broadcast %.2f GB\n\n", sb / 1e9, wb / 1e9
  printf "| nodes | forward + statistics s/layer | communication s/layer | solve, an owner per linear (as built) s/layer | total h | solve by one owner per group s/layer | total h | solve rows split s/layer | total h |\n|---|---|---|---|---|---|---|---|---|\n"
  n = split("1 2 4 8 16 32", Rs, " ")
  for (k = 1; k <= n; ++k) { R = Rs[k]
    comp = (fwd / (ef * node) + stats / (es * node)) / R
    comm = R > 1 ? (sb + hop) / bw + 2 * wb / bw : 0
    own = rows + cube                # one owner per group, the others wait
    spl = rows / R + cube            # output rows split over the ranks; N^3 factorizations on each
    built = lpt("q k v", R) + lpt("o", R) + lpt("gate up", R) + lpt("down", R)
    printf "| %d | %.1f | %.1f | %.1f | %.2f | %.1f | %.2f | %.1f | %.2f |\n", R, comp, comm, built, (comp + comm + built) * L / 3600, own, (comp + comm + own) * L / 3600, spl, (comp + comm + spl) * L / 3600 }
}
# The most loaded of R ranks when the named linears go longest first to the least-loaded rank.
function lpt(names, R,    a, n, k, j, t, load, best, mx) {
  n = split(names, a, " ")
  for (k = 1; k <= n; ++k) for (j = k + 1; j <= n; ++j) if (lsol[a[j]] > lsol[a[k]]) { t = a[k]; a[k] = a[j]; a[j] = t }
  for (j = 0; j < R; ++j) load[j] = 0
  for (k = 1; k <= n; ++k) { best = 0; for (j = 1; j < R; ++j) if (load[j] < load[best]) best = j; load[best] += lsol[a[k]] }
  mx = 0; for (j = 0; j < R; ++j) if (load[j] > mx) mx = load[j]
  return mx
}'
