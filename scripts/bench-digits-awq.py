#!/usr/bin/env python3
"""Graph AWQ against round to nearest and GPTQ on the digits MLP or CNN (fixtures/demo).

usage: python3 scripts/bench-digits-awq.py BIN [--cnn] [GRANULARITY ...]

--cnn: fixtures/demo/cnn-digits.onnx (Conv → Relu → MaxPool → Flatten → Gemm; AWQ folds the
Gemm's scales, tied per channel, into the Conv) instead of mlp-digits.ckpt.

For each int4 granularity: `quantize --method rtn|awq|gptq` (calibration digits-train.csv, its
first 1,024 rows), accuracy by `aicompress evaluate --data digits-test.csv`, and the logits'
mean squared error against the float model on the 450 test rows, computed by onnxruntime on the
dequantized model (`dequantize` then `convert` to ONNX).
"""
import os, subprocess, sys, tempfile
import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "fixtures", "demo")
TRAIN, TEST = (os.path.join(DEMO, f) for f in ("digits-train.csv", "digits-test.csv"))


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)}: {r.stderr}")
    return r


def logits(bin_, model, tmp, x):
    dense, onnx = os.path.join(tmp, "d" + os.path.splitext(model)[1]), os.path.join(tmp, "d.onnx")
    for f in (dense, onnx):
        if os.path.exists(f):
            os.remove(f)
    run(bin_, "dequantize", "-q", model, dense)
    if dense != onnx:
        run(bin_, "convert", "-q", dense, onnx)
    s = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    shape = s.get_inputs()[0].shape
    return s.run(None, {s.get_inputs()[0].name: x.reshape([-1] + list(shape[1:])) if len(shape) > 2 else x})[0]


def main():
    bin_ = sys.argv[1]
    cnn = "--cnn" in sys.argv[2:]
    model = os.path.join(DEMO, "cnn-digits.onnx" if cnn else "mlp-digits.ckpt")
    ext = os.path.splitext(model)[1]
    grans = [g for g in sys.argv[2:] if g != "--cnn"] or ["--per-channel", "--group-size=16", "--group-size=32"]
    data = np.loadtxt(TEST, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = data[:, :64], data[:, 64].astype(int)
    with tempfile.TemporaryDirectory() as tmp:
        ref = logits(bin_, model, tmp, x)
        print(f"float: accuracy {np.mean(ref.argmax(1) == y) * 100:.2f}%")
        print("| granularity | method | accuracy | logit MSE vs f32 |")
        print("|---|---|---:|---:|")
        for g in grans:
            for m in ["rtn", "awq", "gptq"]:
                out = os.path.join(tmp, f"{m}{ext}")
                extra = [] if m == "rtn" else ["--calibration", TRAIN]
                run(bin_, "quantize", "-q", "--int4", g, "--method", m, *extra, model, out)
                z = logits(bin_, out, tmp, x)
                acc = np.mean(z.argmax(1) == y)
                print(f"| {g.lstrip('-')} | {m} | {acc * 100:.2f}% ({int(round(acc * len(y)))}/{len(y)}) | {np.mean((z - ref) ** 2):.5f} |")


if __name__ == "__main__":
    main()
