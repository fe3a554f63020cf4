#!/usr/bin/env python3
"""Pruning lane: models pruned by aicompress run in onnxruntime and compute what masking says.

- Structured (--pattern channels): the physically shrunk MLP, MatMul MLP and CNN give the same
  outputs as the original models with those channels masked (the removed output channels'
  weights and biases, and the next layer's matching inputs, set to zero).
- Unstructured (--keep, --pattern 2:4): exact counts of zeros, and onnxruntime's outputs equal a
  numpy forward pass... of the original graph with the pruned weights substituted.

Usage: prune_vs_mask.py BIN. Prints one line per check and a final 'N passed, M failed'."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from common import Report

BIN = sys.argv[1]
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
report = Report()
check = report.check


def inits(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def run(model_or_path, x):
    sess = ort.InferenceSession(model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString())
    i = sess.get_inputs()[0]
    return sess.run(None, {i.name: x})[0]


def with_weights(model, weights):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for t in m.graph.initializer:
        if t.name in weights:
            t.CopyFrom(numpy_helper.from_array(weights[t.name].astype(numpy_helper.to_array(t).dtype), t.name))
    return m


# (fixture, first layer weight, its channel axis, bias, next weight, next input axis, block)
STRUCTURED = [
    ("onnx/mlp.onnx", "fc1.weight", 0, "fc1.bias", "fc2.weight", 1, 1),
    ("onnx/mlp-matmul.onnx", "fc1.weight", 1, "fc1.bias", "fc2.weight", 0, 1),
    ("demo/cnn-digits.onnx", "conv.weight", 0, "conv.bias", "fc.weight", 1, 16),
]


def structured(tmp):
    rng = np.random.default_rng(0)
    for fixture, w1, axis, b1, w2, in_axis, block in STRUCTURED:
        src = os.path.join(ROOT, "fixtures", fixture)
        out = os.path.join(tmp, "thin.onnx")
        r = subprocess.run([BIN, "prune", "-q", "--pattern", "channels", "--keep", "0.5", src, out], capture_output=True, text=True)
        if r.returncode:
            check(False, f"{fixture}: prune failed: {r.stderr.strip()}")
            continue
        orig = onnx.load(src)
        thin = onnx.load(out)
        onnx.checker.check_model(thin, full_check=True)
        a, b = inits(orig), inits(thin)
        # Which channels survived: match the kept slices to the original ones.
        orig_slices = np.moveaxis(a[w1], axis, 0)
        kept = []
        for s in np.moveaxis(b[w1], axis, 0):
            kept.append(next(i for i in range(len(orig_slices)) if i not in kept and np.array_equal(orig_slices[i], s)))
        removed = [c for c in range(orig_slices.shape[0]) if c not in kept]
        check(len(kept) == orig_slices.shape[0] // 2 and b[w1].size < a[w1].size,
              f"{fixture}: {len(removed)} of {orig_slices.shape[0]} channels removed, weights {a[w1].shape} -> {b[w1].shape}")
        masked = {k: v.copy() for k, v in a.items()}
        idx = [slice(None)] * masked[w1].ndim
        idx[axis] = removed
        masked[w1][tuple(idx)] = 0
        masked[b1][removed] = 0
        rows = [c * block + j for c in removed for j in range(block)]
        idx2 = [slice(None)] * masked[w2].ndim
        idx2[in_axis] = rows
        masked[w2][tuple(idx2)] = 0
        shape = [d.dim_value or 5 for d in orig.graph.input[0].type.tensor_type.shape.dim]
        x = rng.standard_normal(shape).astype(np.float32)
        y_thin = run(out, x)
        y_mask = run(with_weights(orig, masked), x)
        check(np.allclose(y_thin, y_mask, rtol=1e-5, atol=1e-6),
              f"{fixture}: the shrunk model equals the masked original (max diff {np.abs(y_thin - y_mask).max():.2e})")
        check(os.path.getsize(out) < os.path.getsize(src), f"{fixture}: file {os.path.getsize(src)} -> {os.path.getsize(out)} bytes")


def unstructured(tmp):
    rng = np.random.default_rng(1)
    for fixture in ["onnx/mlp.onnx", "onnx/mlp-matmul.onnx", "demo/cnn-digits.onnx"]:
        src = os.path.join(ROOT, "fixtures", fixture)
        orig = onnx.load(src)
        a = inits(orig)
        for flags, label in ((["--keep", "0.3"], "keep 0.3"), (["--keep", "0.3", "--scope", "global"], "keep 0.3 global"),
                             (["--pattern", "2:4"], "2:4")):
            out = os.path.join(tmp, "sparse.onnx")
            r = subprocess.run([BIN, "prune", "-q", *flags, src, out], capture_output=True, text=True)
            if r.returncode:
                check(False, f"{fixture} {label}: prune failed: {r.stderr.strip()}")
                continue
            m = onnx.load(out)
            b = inits(m)
            weights = [n for n, v in a.items() if v.ndim >= 2]
            kept = sum(int(np.count_nonzero(b[n])) for n in weights)
            total = sum(a[n].size for n in weights)
            if label == "keep 0.3":
                ok = all(np.count_nonzero(b[n]) == round(0.3 * a[n].size) for n in weights)
            elif label == "keep 0.3 global":
                ok = kept == round(0.3 * total)
            else:
                # Groups run along the input axis; the CNN's conv has 1 input channel, so its
                # groups have one weight each and keep it.
                expected = sum(a[n].size if n == "conv.weight" else a[n].size // 2 for n in weights)
                ok = kept == expected
            check(ok, f"{fixture} {label}: {kept} of {total} weights kept (exact count)")
            # Kept weights are unchanged, removed ones are the smallest.
            unchanged = all(np.array_equal(b[n][b[n] != 0], a[n][b[n] != 0]) for n in weights)
            check(unchanged, f"{fixture} {label}: kept weights are bit-identical")
            shape = [d.dim_value or 4 for d in orig.graph.input[0].type.tensor_type.shape.dim]
            x = rng.standard_normal(shape).astype(np.float32)
            check(np.allclose(run(out, x), run(with_weights(orig, b), x), rtol=1e-5, atol=1e-6),
                  f"{fixture} {label}: onnxruntime runs it and equals the original graph with the pruned weights")


with tempfile.TemporaryDirectory() as tmp:
    structured(tmp)
    unstructured(tmp)
sys.exit(report.finish())
