#!/usr/bin/env python3
"""Training lane: models that `train` and `distill` write are valid ONNX that onnxruntime runs,
and onnxruntime computes what our executor computes on them.

- train (Adam, 3 epochs) on the demo MLP, written as .onnx: onnx.checker (full) passes; ORT's
  logits equal `aicompress predict` within 1e-5 relative; accuracy from ORT equals `evaluate`.
- train --standardize: the (x - mean)/std nodes are in the graph and ORT applies them.
- distill --hidden 32 from the teacher, and --shrink 0.25: same checks.
- a pruned then fine-tuned model keeps its exact zeros in the ONNX initializers.
- scikit-learn's default export (fixtures/training/skl-mlp-zipmap.onnx, Softmax -> ZipMap),
  pruned and fine-tuned: the weights changed, the file keeps its ZipMap, and ORT's labels and
  probabilities equal `aicompress predict`'s (issue 15, item 3).
- the BERT-class encoder of fixtures/encoder (training_encoder.py): train, one gradient step
  against a numpy float64 reference, prune + train (issue 17, item 6).

Usage: training_vs_ort.py BIN. Prints one line per check and a final 'N passed, M failed'."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from common import Report
import training_encoder

BIN = sys.argv[1]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(ROOT, "fixtures", "demo")
TRAIN, TEST = os.path.join(DEMO, "digits-train.csv"), os.path.join(DEMO, "digits-test.csv")
report = Report()
check = report.check


def aic(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("aicompress %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r.stdout


data = np.loadtxt(TEST, delimiter=",", skiprows=1)
x, y = data[:, :64].astype(np.float32), data[:, 64].astype(int)


def verify(name, path):
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        check(True, "%s: onnx.checker full_check" % name)
    except Exception as e:  # noqa: BLE001
        check(False, "%s: onnx.checker: %s" % (name, e))
        return
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ort_logits = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    lines = aic("predict", path, "--data", TEST).strip().split("\n")[1:]
    ours = np.array([[float(v) for v in line.split(",")] for line in lines], dtype=np.float32)
    err = float(np.max(np.abs(ours - ort_logits) / np.maximum(1, np.abs(ort_logits))))
    check(ours.shape == ort_logits.shape and err <= 1e-5, "%s: predict equals onnxruntime (max rel err %.2e)" % (name, err))
    ev = json.loads(aic("evaluate", path, "--data", TEST, "--json"))
    ort_acc = float(np.mean(ort_logits.argmax(axis=1) == y))
    check(abs(ev["metrics"]["accuracy"] - ort_acc) < 1e-12, "%s: evaluate accuracy %.4f equals onnxruntime's %.4f"
          % (name, ev["metrics"]["accuracy"], ort_acc))
    return ort_acc


with tempfile.TemporaryDirectory() as tmp:
    p = lambda n: os.path.join(tmp, n)  # noqa: E731
    try:
        aic("train", os.path.join(DEMO, "mlp-digits.ckpt"), "--data", TRAIN, "--epochs", "3", "-q", p("tuned.onnx"))
        verify("train", p("tuned.onnx"))
        aic("train", os.path.join(DEMO, "mlp-digits.ckpt"), "--data", TRAIN, "--epochs", "2", "--standardize", "-q", p("std.onnx"))
        ops = [n.op_type for n in onnx.load(p("std.onnx")).graph.node]
        check(ops[:2] == ["Sub", "Div"], "train --standardize: graph starts with Sub, Div (%s)" % ops[:3])
        verify("train --standardize", p("std.onnx"))
        aic("distill", "--teacher", os.path.join(DEMO, "teacher-digits.ckpt"), "--data", TRAIN, "--hidden", "32",
            "--epochs", "25", "--lr", "0.003", "-q", p("student.onnx"))
        acc = verify("distill --hidden 32", p("student.onnx"))
        check(acc is not None and acc > 0.9, "distill --hidden 32: onnxruntime accuracy %.4f > 0.9" % (acc or 0))
        aic("distill", "--teacher", os.path.join(DEMO, "teacher-digits.ckpt"), "--data", TRAIN, "--shrink", "0.25",
            "--epochs", "5", "-q", p("shrunk.onnx"))
        shapes = {t.name: list(t.dims) for t in onnx.load(p("shrunk.onnx")).graph.initializer}
        check(shapes.get("fc1.weight") == [64, 64] and shapes.get("fc2.weight") == [32, 64],
              "distill --shrink 0.25: hidden layers 256->64, 128->32 (%s, %s)" % (shapes.get("fc1.weight"), shapes.get("fc2.weight")))
        verify("distill --shrink 0.25", p("shrunk.onnx"))
        aic("prune", "--keep", "0.2", "--scope", "global", "-q", os.path.join(DEMO, "teacher-digits.ckpt"), p("p.ckpt"))
        aic("train", p("p.ckpt"), "--data", TRAIN, "--epochs", "2", "-q", p("pt.onnx"))
        before = {t.name: numpy_helper.to_array(t) for t in onnx.load(p("pt.onnx")).graph.initializer}
        aic("convert", p("p.ckpt"), p("p.onnx"))
        pruned = {t.name: numpy_helper.to_array(t) for t in onnx.load(p("p.onnx")).graph.initializer}
        same = all(np.array_equal(before[n] == 0, pruned[n] == 0) for n in pruned if pruned[n].ndim == 2)
        check(same, "prune + train: every weight matrix keeps exactly the pruned zeros in ONNX")
        verify("prune + train", p("pt.onnx"))
        zipmap = os.path.join(ROOT, "fixtures", "training", "skl-mlp-zipmap.onnx")
        aic("prune", "--keep", "0.3", "-q", zipmap, p("zp.onnx"))
        aic("train", p("zp.onnx"), "--data", TRAIN, "--epochs", "10", "-q", p("zt.onnx"))
        before = {t.name: numpy_helper.to_array(t) for t in onnx.load(p("zp.onnx")).graph.initializer}
        tuned = onnx.load(p("zt.onnx"))
        after = {t.name: numpy_helper.to_array(t) for t in tuned.graph.initializer}
        check(all(not np.array_equal(before[n], after[n]) for n in ["coefficient", "coefficient1"]),
              "train on a ZipMap classifier: the weights changed")
        check([n.op_type for n in tuned.graph.node].count("ZipMap") == 1, "train on a ZipMap classifier: the ZipMap is kept")
        sess = ort.InferenceSession(p("zt.onnx"), providers=["CPUExecutionProvider"])
        labels, maps = sess.run(None, {sess.get_inputs()[0].name: x})
        ort_p = np.array([[m[k] for k in range(10)] for m in maps], dtype=np.float32)
        lines = aic("predict", p("zt.onnx"), "--data", TEST).strip().split("\n")
        header = lines[0].split(",")
        ours = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
        prob_cols = [i for i, h in enumerate(header) if h.startswith("output_probability")]
        label_col = header.index("output_label") if "output_label" in header else None
        err = float(np.max(np.abs(ours[:, prob_cols] - ort_p))) if len(prob_cols) == 10 else float("inf")
        check(err <= 1e-5, "train on a ZipMap classifier: probabilities equal onnxruntime's (max abs err %.1e)" % err)
        check(label_col is not None and np.array_equal(ours[:, label_col].astype(np.int64), labels),
              "train on a ZipMap classifier: labels equal onnxruntime's")
        acc = float(np.mean(labels == y))
        check(acc > 0.93, "train on a ZipMap classifier: onnxruntime accuracy %.4f > 0.93 (pruned to 30%%: 0.70)" % acc)
        training_encoder.run(aic, check, tmp)
    except Exception as e:  # noqa: BLE001
        check(False, "lane aborted: %s" % e)

sys.exit(report.finish())
