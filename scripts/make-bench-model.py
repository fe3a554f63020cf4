#!/usr/bin/env python3
"""Writes a synthetic checkpoint of about SIZE_MIB MiB (default 1024) for benchmarks:
64 f32 tensors of normally distributed values (numpy seed 0), written with the independent
Python writer in fixtures/ckpt.py. Usage: make-bench-model.py OUT [SIZE_MIB]"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
import ckpt  # noqa: E402

out = sys.argv[1]
size_mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
count = 64
per_tensor = size_mib * (1 << 20) // count // 4  # f32 elements per tensor
cols = 4096
rows = per_tensor // cols
rng = np.random.default_rng(0)
tensors = []
for i in range(count):
    w = (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype("<f4")
    tensors.append((f"layers.{i}.weight", "f32", [rows, cols], w.tobytes()))
ckpt.write_ckpt(out, tensors, metadata={"bench.note": "synthetic, numpy default_rng(0)"})
