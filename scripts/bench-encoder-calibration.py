#!/usr/bin/env python3
"""Calibrated compression of the BERT-class encoder fixture (issue 18 item 5).

    python3 scripts/bench-encoder-calibration.py [BIN] [--epochs 5] [--out DIR]

Trains fixtures/encoder/encoder-init.onnx with `aicompress train` on tokens-train.npz, then
prunes (magnitude, Wanda, SparseGPT; calibration: tokens-train.npz) and quantizes (int8/int4,
round to nearest, GPTQ and AWQ, which folds each attention output projection's scales into its
value projection) it, and reports on tokens-test.npz (300 rows, never used for
calibration) the accuracy and the cosine between each file's pooled output and the trained model's (and the logits' error),
both computed by onnxruntime, not by aicompress. Needs numpy, onnx, onnxruntime.
"""
import argparse, json, os, subprocess, sys, tempfile
import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures", "encoder")


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(args)}\n{r.stderr}")


def outputs(path, feeds):
    """The logits and the pooler's output (the Gemm on pooler.dense.weight, exposed as an output)."""
    m = onnx.load(path)
    pooled = next(n.output[0] for n in m.graph.node if "pooler.dense.weight" in n.input)
    m.graph.output.append(onnx.helper.make_tensor_value_info(pooled, onnx.TensorProto.FLOAT, None))
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    z, p = s.run(["logits", pooled], feeds)
    return z.astype(np.float64), p.astype(np.float64)


def cosine(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin", nargs="?", default=os.path.join(ROOT, ".build", "debug", "aicompress"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--out")
    ap.add_argument("--global", dest="glob", action="store_true",
                    help="only SparseGPT at 50%%: per tensor, --scope global, and --scope global --allocation output")
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="enc-cal-")
    train, test = os.path.join(FIX, "tokens-train.npz"), os.path.join(FIX, "tokens-test.npz")
    t = np.load(test)
    feeds = {k: t[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
    labels = t["label"]
    dense = os.path.join(out, "dense.onnx")
    run(a.bin, "train", "-q", os.path.join(FIX, "encoder-init.onnx"), "--data", train, "--epochs", str(a.epochs), "--patience", "0", dense)
    base, base_pooled = outputs(dense, feeds)
    cases = [("dense (trained)", None)]
    for keep in ("0.7", "0.5"):
        for m in ("magnitude", "wanda", "sparsegpt"):
            cases.append((f"prune --keep {keep} --method {m}", ["prune", "--keep", keep, "--method", m] + ([] if m == "magnitude" else ["--calibration", train])))
    cases.append(("prune --pattern 2:4 --method sparsegpt", ["prune", "--pattern", "2:4", "--method", "sparsegpt", "--calibration", train]))
    cases.append(("prune --pattern 2:4 --method magnitude", ["prune", "--pattern", "2:4"]))
    for q in ("--int8", "--int4"):
        cases.append((f"quantize {q}", ["quantize", q]))
        cases.append((f"quantize {q} --method gptq", ["quantize", q, "--method", "gptq", "--calibration", train]))
        cases.append((f"quantize {q} --method awq", ["quantize", q, "--method", "awq", "--calibration", train]))
    if a.glob:
        s = ["prune", "--keep", "0.5", "--method", "sparsegpt", "--calibration", train]
        cases = cases[:1] + [("prune --keep 0.5 --method sparsegpt", s),
                             ("the same, --scope global", s + ["--scope", "global"]),
                             ("the same, --scope global --allocation output", s + ["--scope", "global", "--allocation", "output"])]
    print("| file | test accuracy | pooled output cosine vs dense, mean (worst row) | logits relative L2 error |")
    print("|---|---:|---:|---:|")
    for i, (name, args) in enumerate(cases):
        path = dense
        if args:
            path = os.path.join(out, f"case{i}.onnx")
            run(a.bin, *args, "-q", dense, path)
        z, pooled = outputs(path, feeds)
        acc = float((z.argmax(1) == labels).mean())
        cos = cosine(pooled, base_pooled)
        rel = np.linalg.norm(z - base) / np.linalg.norm(base)
        print(f"| {name} | {acc:.2%} | {cos.mean():.5f} ({cos.min():.5f}) | {rel:.4f} |")


if __name__ == "__main__":
    main()
