#!/usr/bin/env python3
"""Writes the deterministic data and models for scripts/bench-train.sh into OUTDIR.

Usage: make-bench-train.py OUTDIR [--digits CSV] [--rows N] [--test-rows N] [--digits-rows N]

Files (all regenerated on every run; nothing here is meant to be committed):
  mlp.onnx          MLP 784-256-128-10: input 'input' [N,784] float -> Gemm(transB=1, weight
                    [out,in], bias) -> Relu -> Gemm -> Relu -> Gemm -> output 'logits' [N,10].
                    He-uniform weights (U(-b, b), b = sqrt(6 / fan_in)) from
                    numpy default_rng(1234), zero biases; opset 17, IR 8.
  train.csv         N (10,000) rows: f0..f783 + label. SYNTHETIC "MNIST-like" data, not real
                    MNIST (no network; scikit-learn's digits are only 8x8): 10 class prototypes
                    (28x28 random-walk strokes, blurred, in [0,1]), each row a prototype shifted
                    by up to +-2 pixels, scaled by U(0.7, 1), plus N(0, 0.2) noise, clipped to
                    [0,1], values < 0.25 set to 0 (sparse background like MNIST), rounded to
                    multiples of 0.001 so the CSV text ('%.4g') is exact. Labels uniform 0..9.
  train-x.npy       the same features, float32 [N,784] (bit-identical to parsing train.csv as
  train-y.npy       float32) and labels int64 [N] - for timing without CSV parsing.
  test.csv, test-x.npy, test-y.npy
                    2,000 further rows from the same distribution (accuracy check).
  tiny.csv          the first 8 rows of train.csv (fixed per-process cost).
  digits-50k.csv    fixtures/demo/digits-test.csv (450 rows x 64 + label) repeated to 50,000
  digits-50k-x.npy  rows, and as float32 / int64 .npy.
  digits-50k-y.npy

Deterministic: numpy default_rng(0) for the data, default_rng(1234) for the weights.
Needs numpy and onnx.
"""
import argparse
import os
import time

import numpy as np
from onnx import TensorProto, checker, helper, numpy_helper

SIDE = 28
FEATURES = SIDE * SIDE
SIZES = [FEATURES, 256, 128, 10]


def prototypes(rng):
    """10 stroke images [10, 28, 28] in [0, 1]: 3 random walks each, thick, blurred."""
    protos = np.zeros((10, SIDE, SIDE))
    for c in range(10):
        img = np.zeros((SIDE + 2, SIDE + 2))
        for _ in range(3):
            pos = rng.uniform(8, 20, size=2)
            ang = rng.uniform(0, 2 * np.pi)
            for _ in range(14):
                ang += rng.normal(0, 0.5)
                pos = np.clip(pos + 1.5 * np.array([np.cos(ang), np.sin(ang)]), 4, SIDE - 5)
                i, j = int(pos[0]) + 1, int(pos[1]) + 1
                img[i - 1:i + 2, j - 1:j + 2] = 1.0
        # 3x3 box blur
        blur = sum(img[1 + di:1 + di + SIDE, 1 + dj:1 + dj + SIDE]
                   for di in (-1, 0, 1) for dj in (-1, 0, 1)) / 9.0
        protos[c] = np.clip(blur * 1.5, 0, 1)
    return protos


def samples(rng, protos, n):
    y = rng.integers(0, 10, size=n)
    x = np.empty((n, SIDE, SIDE))
    shifts = rng.integers(-2, 3, size=(n, 2))
    scale = rng.uniform(0.7, 1.0, size=n)
    for k in range(n):
        x[k] = np.roll(protos[y[k]], tuple(shifts[k]), axis=(0, 1)) * scale[k]
    x += rng.normal(0, 0.2, size=x.shape)
    x = np.clip(x, 0, 1)
    x[x < 0.25] = 0
    x = np.round(x * 1000) / 1000   # multiples of 0.001: '%.4g' prints them exactly
    return x.reshape(n, FEATURES), y.astype(np.int64)


def write_csv(path, x, y, fmt):
    header = ",".join([f"f{i}" for i in range(x.shape[1])] + ["label"])
    data = np.concatenate([x, y[:, None].astype(np.float64)], axis=1)
    np.savetxt(path, data, fmt=[fmt] * x.shape[1] + ["%d"], delimiter=",",
               header=header, comments="")


def write_mlp(path):
    rng = np.random.default_rng(1234)
    inits, nodes = [], []
    x = "input"
    for layer, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
        bound = np.sqrt(6.0 / fan_in)
        w = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
        b = np.zeros(fan_out, dtype=np.float32)
        inits += [numpy_helper.from_array(w, f"fc{layer}.weight"),
                  numpy_helper.from_array(b, f"fc{layer}.bias")]
        last = layer == len(SIZES) - 1
        out = "logits" if last else f"fc{layer}.out"
        nodes.append(helper.make_node("Gemm", [x, f"fc{layer}.weight", f"fc{layer}.bias"], [out],
                                      name=f"fc{layer}", transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"relu{layer}.out"], name=f"relu{layer}"))
            x = f"relu{layer}.out"
    g = helper.make_graph(nodes, "bench_mlp_784_256_128_10",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", FEATURES])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    m.producer_name = "aicompress-bench"
    m.producer_version = "1"
    helper.set_model_props(m, {"bench.note": "He-uniform, numpy default_rng(1234), zero biases"})
    checker.check_model(m, full_check=True)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="data and models for bench-train.sh")
    ap.add_argument("outdir")
    ap.add_argument("--digits", default=os.path.join(here, "..", "fixtures", "demo", "digits-test.csv"))
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--test-rows", type=int, default=2_000)
    ap.add_argument("--digits-rows", type=int, default=50_000)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    out = lambda name: os.path.join(args.outdir, name)  # noqa: E731
    t0 = time.perf_counter()

    # The CSV text of every value k/1000 parses (as float32) to exactly float32(k/1000).
    k = np.arange(1001)
    text = np.array([f"{v:.4g}" for v in k / 1000])
    assert np.array_equal(text.astype(np.float32), (k / 1000).astype(np.float32))

    write_mlp(out("mlp.onnx"))
    rng = np.random.default_rng(0)
    protos = prototypes(rng)
    for name, n in (("train", args.rows), ("test", args.test_rows)):
        x, y = samples(rng, protos, n)
        write_csv(out(f"{name}.csv"), x, y, "%.4g")
        np.save(out(f"{name}-x.npy"), x.astype(np.float32))
        np.save(out(f"{name}-y.npy"), y)
        if name == "train":
            with open(out("train.csv")) as src, open(out("tiny.csv"), "w") as dst:
                for _ in range(9):
                    dst.write(src.readline())
            nonzero = float((x > 0).mean())

    # digits: repeat the 450-row test split. Values are k/16, exact in float32 and in the CSV.
    d = np.loadtxt(args.digits, delimiter=",", skiprows=1)
    reps = -(-args.digits_rows // len(d))
    d = np.tile(d, (reps, 1))[:args.digits_rows]
    dx, dy = d[:, :-1], d[:, -1].astype(np.int64)
    write_csv(out("digits-50k.csv"), dx, dy, "%.6g")
    np.save(out("digits-50k-x.npy"), dx.astype(np.float32))
    np.save(out("digits-50k-y.npy"), dy)

    print(f"{args.outdir}: mlp.onnx (784-256-128-10), train.csv {args.rows} rows "
          f"({os.path.getsize(out('train.csv')) / 2**20:.1f} MiB, {nonzero:.1%} nonzero), "
          f"test.csv {args.test_rows} rows, digits-50k.csv {len(d)} rows "
          f"({os.path.getsize(out('digits-50k.csv')) / 2**20:.1f} MiB); "
          f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
