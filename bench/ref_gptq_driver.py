#!/usr/bin/env python3
"""Benchmark driver (not a test, not used at run time): times IST-DASLab/gptq's own
GPTQ.fasterquant on torch CPU for one random layer problem, and writes the same problem (W, H) for
`loaq layer` together with the reference's codes.

    python3 bench/ref_gptq_driver.py --gptq CHECKOUT --rows M --cols N --out DIR [--threads 2]

The checkout's gptq.py and quant.py are imported unmodified; two things it needs but a CPU run does
not have are stood in for: the `transformers` module (only its Conv1D class is looked at) and
torch.cuda.synchronize (a no-op here).
"""
import argparse
import json
import struct
import sys
import time
import types

import torch


def write_safetensors(path, tensors):
    """Minimal safetensors writer: F32 and I32 tensors, 8-byte aligned header."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        dtype = {torch.float32: "F32", torch.int32: "I32"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gptq", required=True, help="checkout of IST-DASLab/gptq (commit 2d65066)")
    ap.add_argument("--rows", type=int, required=True, help="M, outputs")
    ap.add_argument("--cols", type=int, required=True, help="N, inputs")
    ap.add_argument("--tokens", type=int, default=4096, help="calibration tokens behind H")
    ap.add_argument("--wbits", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="directory for problem.safetensors and ref.json")
    a = ap.parse_args()

    sys.modules.setdefault("transformers", types.SimpleNamespace(Conv1D=type("Conv1D", (), {})))
    torch.cuda.synchronize = lambda *args, **kw: None
    sys.path.insert(0, a.gptq)
    from gptq import GPTQ  # noqa: E402  (the reference, unmodified)
    from quant import Quantizer  # noqa: E402

    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(a.seed)
    M, N, T = a.rows, a.cols, a.tokens
    # Correlated channels (a rank-64 common part) with log-normal scales and a few large channels,
    # as calibration activations have.
    Z = torch.randn(T, N, generator=g)
    X = Z + Z[:, :64] @ torch.randn(64, N, generator=g) * 0.3
    del Z
    scale = torch.exp(0.5 * torch.randn(N, generator=g))
    scale[torch.randperm(N, generator=g)[: max(2, N // 64)]] *= 10.0
    X *= scale
    W = torch.randn(M, N, generator=g) / N**0.5

    layer = torch.nn.Linear(N, M, bias=False)
    layer.weight.data = W.clone()
    gq = GPTQ(layer)
    gq.quantizer = Quantizer()
    gq.quantizer.configure(a.wbits, perchannel=True, sym=False, mse=False)
    t0 = time.time()
    gq.add_batch(X.unsqueeze(0), None)  # H = 2/n · XᵀX, the reference's own accumulation
    t_h = time.time() - t0
    H = gq.H.clone()
    del X

    t0 = time.time()
    gq.fasterquant(blocksize=128, percdamp=0.01, groupsize=-1)
    t_solve = time.time() - t0
    Q = layer.weight.data
    scale_q, zero_q = gq.quantizer.scale.flatten(), gq.quantizer.zero.flatten()
    codes = torch.round(Q / scale_q[:, None] + zero_q[:, None]).to(torch.int32)

    write_safetensors(f"{a.out}/problem.safetensors", {"W": W, "H": H})
    write_safetensors(f"{a.out}/ref.safetensors", {"codes": codes})
    json.dump({"rows": M, "cols": N, "threads": a.threads, "torch": torch.__version__,
               "add_batch_seconds": t_h, "fasterquant_seconds": t_solve},
              open(f"{a.out}/ref.json", "w"))
    print(f"reference fasterquant {M}x{N}: {t_solve:.2f} s (torch {torch.__version__}, "
          f"{a.threads} threads; add_batch {t_h:.2f} s)")


if __name__ == "__main__":
    main()
