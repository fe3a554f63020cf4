#!/usr/bin/env python3
"""Writes a synthetic safetensors file of about SIZE_MIB MiB for benchmarks, with the real
safetensors package (safetensors.numpy.save_file): 64 F32 tensors `layers.{i}.weight` of
normally distributed values, numpy default_rng(0), scaled by 0.02 — the same names, shapes and
values as scripts/make-bench-model.py writes into a checkpoint (for an integer SIZE_MIB:
[SIZE_MIB, 4096] each), so the two benchmark files hold the same model.

Usage: make-bench-safetensors.py OUT SIZE_MIB

Memory-frugal: the values are generated tensor by tensor into a scratch file (OUT.scratch,
np.memmap, removed at the end) and save_file is handed memory-mapped views of it, so the data
never sits in anonymous memory (the page cache holds it instead); disk use peaks at twice the
size. The metadata ({"format": "np", "bench.note": ...}) is put in key order afterwards: the Rust
writer emits it in hash order, which changes from run to run. Deterministic: two runs give
identical files. Needs numpy and safetensors.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
from safetensors.numpy import save_file

COUNT = 64
COLS = 4096
SCALE = np.float32(0.02)
FLUSH_BYTES = 256 << 20  # write dirty scratch pages back every 256 MiB


def sort_metadata_in_place(path):
    """Rewrite the header with __metadata__ in key order (same length; only the header changes)."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        raw = f.read(n)
        h = json.loads(raw)
        if "__metadata__" not in h:
            return
        h["__metadata__"] = dict(sorted(h["__metadata__"].items()))
        text = json.dumps(h, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(text) > n:
            raise SystemExit("unexpected header layout")
        f.seek(8)
        f.write(text + b" " * (n - len(text)))


def main():
    ap = argparse.ArgumentParser(description="synthetic safetensors benchmark file")
    ap.add_argument("out")
    ap.add_argument("size_mib", type=float)
    args = ap.parse_args()

    per_tensor = int(args.size_mib * (1 << 20)) // COUNT // 4  # f32 elements per tensor
    if per_tensor < 1:
        sys.exit(f"{args.size_mib} MiB is too small for {COUNT} tensors")
    cols = min(COLS, per_tensor)
    rows = per_tensor // cols

    scratch_path = args.out + ".scratch"
    for p in (args.out, scratch_path):
        if os.path.lexists(p):
            os.remove(p)
    rng = np.random.default_rng(0)
    scratch = np.memmap(scratch_path, dtype="<f4", mode="w+", shape=(COUNT, rows, cols))
    try:
        since_flush = 0
        for i in range(COUNT):
            w = scratch[i]
            rng.standard_normal(dtype=np.float32, out=w)  # the same stream as standard_normal((rows, cols))
            w *= SCALE
            since_flush += w.nbytes
            if since_flush >= FLUSH_BYTES:
                scratch.flush()
                since_flush = 0
        scratch.flush()
        tensors = {f"layers.{i}.weight": scratch[i] for i in range(COUNT)}
        save_file(tensors, args.out, metadata={"format": "np",
                                               "bench.note": "synthetic, numpy default_rng(0) * 0.02"})
        del tensors
    finally:
        del scratch
        os.remove(scratch_path)
    sort_metadata_in_place(args.out)
    print(f"{args.out}: {COUNT} F32 tensors [{rows}, {cols}], {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
