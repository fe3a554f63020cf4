#!/usr/bin/env python3
"""Quality lane: quantize the demo MLP and CNN (both trained on scikit-learn's digits,
fixtures/demo/mlp-digits.ckpt and cnn-digits.onnx) with aicompress, run
the original and the quantized ONNX models in onnxruntime on the digits test set, and report
top-1 agreement, accuracy and size. int8 per-channel must keep top-1 on at least 99.5% of the
images; the other schemes are reported.

Usage: quantize_quality.py BIN. Prints one line per result and a final 'N passed, M failed'."""
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

from common import Report

BIN = sys.argv[1]
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
report = Report()
check = report.check


def digits():
    with open(os.path.join(ROOT, "fixtures/demo/digits-test.csv")) as f:
        rows = list(csv.reader(f))[1:]
    x = np.array([[float(v) for v in r[:-1]] for r in rows], dtype=np.float32)
    y = np.array([int(r[-1]) for r in rows])
    return x, y


def run(path, x, optimize=False):
    # Without graph optimisations onnxruntime dequantizes the weights and runs the float graph,
    # so the figures measure the weights' quantization alone, whatever fused integer kernels a
    # given onnxruntime version would pick.
    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, options)
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: x})[0]


def main():
    x, y = digits()
    schemes = [("int8", ["--int8"]), ("uint8", ["--uint8"]), ("int8 per-tensor", ["--int8", "--per-tensor"]),
               ("int4 g32", ["--int4"]), ("int4 g16", ["--int4", "--group-size", "16"]), ("uint4 g32", ["--uint4"]),
               ("int4 g32 mse", ["--int4", "--clip", "mse"]), ("fp16", ["--fp16"]), ("bf16", ["--bf16"])]
    with tempfile.TemporaryDirectory() as tmp:
        models = [("mlp-digits", os.path.join(ROOT, "fixtures/demo/mlp-digits.ckpt"), x),
                  ("cnn-digits", os.path.join(ROOT, "fixtures/demo/cnn-digits.onnx"), x.reshape(-1, 1, 8, 8))]
        for label, src, inputs in models:
            ref_path = os.path.join(tmp, label + ".onnx")
            subprocess.run([BIN, "convert", src, ref_path], check=True)
            ref = run(ref_path, inputs)
            ref_top1 = ref.argmax(1)
            ref_acc = (ref_top1 == y).mean()
            print(f"{label}: float32 accuracy {ref_acc:.4f} on {len(y)} digits test images, {os.path.getsize(ref_path)} bytes")
            for name, flags in schemes:
                out = os.path.join(tmp, f"{label}-{name.replace(' ', '-')}.onnx")
                subprocess.run([BIN, "quantize", "-q", *flags, src, out], check=True)
                q = run(out, inputs)
                agree = (q.argmax(1) == ref_top1).mean()
                fused = (run(out, inputs, optimize=True).argmax(1) == ref_top1).mean()
                acc = (q.argmax(1) == y).mean()
                line = (f"{label} {name}: top-1 agreement {agree:.4f} ({fused:.4f} with onnxruntime's fused "
                        f"kernels), accuracy {acc:.4f} (float {ref_acc:.4f}), {os.path.getsize(out)} bytes")
                if name == "int8":
                    check(agree >= 0.995, line + " [needs >= 0.995]")
                else:
                    print("INFO " + line)
    sys.exit(report.finish())


main()
