"""The encoder part of the training lane (training_vs_ort.py): `train` on the BERT-class
classifier of fixtures/encoder, judged by onnxruntime and by an independent numpy forward.

- train 3 epochs (Adam, lr 0.003) on tokens-train.npz: onnx.checker (full) passes; onnxruntime's
  logits on tokens-test.npz equal `aicompress predict`'s within 1e-4; onnxruntime's accuracy
  equals `evaluate`'s and exceeds 0.9 (the untrained model: below 0.6); the scalar constants are
  unchanged.
- one training step: `train --optimizer gd --lr 1 --epochs 1` on the 6 rows of tokens-tiny.npz
  moves each tensor by -g, its gradient; for every tensor, the slope of the cross-entropy along g
  (numpy float64 forward of make_encoder_fixtures.forward, central differences) equals |g|
  within 0.1% + 1e-5, and along a seeded random direction d equals g.d likewise (measured:
  relative errors below 1e-6; the key biases' gradient is 0, as softmax is blind to them).
- distill the trained encoder into the 1-layer student (encoder-student-init.onnx), 6 epochs:
  onnx.checker passes, onnxruntime's logits equal `predict`'s within 1e-4, accuracy > 0.85.
- prune --keep 0.5 then train 2 epochs: the pruned zeros stay zero in the ONNX initializers and
  onnxruntime's accuracy comes back to within 2 points of the trained model's.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENC = os.path.join(ROOT, "fixtures", "encoder")
sys.path.insert(0, ENC)
import make_encoder_fixtures as fx  # noqa: E402

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def load(name):
    with np.load(os.path.join(ENC, name)) as z:
        return {k: z[k] for k in z.files}


def weights(path):
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def ort_logits(path, data):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, {k: data[k].astype(np.int64) for k in INPUTS})[0]


def cross_entropy(logits, labels):
    z = logits - logits.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(labels)), labels]))


def run(aic, check, tmp):
    p = lambda n: os.path.join(tmp, n)  # noqa: E731
    test = load("tokens-test.npz")
    init = os.path.join(ENC, "encoder-init.onnx")
    base_acc = float(np.mean(ort_logits(init, test).argmax(1) == test["label"]))
    aic("train", init, "--data", os.path.join(ENC, "tokens-train.npz"), "--epochs", "3", "--lr", "0.003", "-q", p("enc.onnx"))
    onnx.checker.check_model(onnx.load(p("enc.onnx")), full_check=True)
    check(True, "encoder train: onnx.checker full_check")
    theirs = ort_logits(p("enc.onnx"), test)
    lines = aic("predict", p("enc.onnx"), "--data", os.path.join(ENC, "tokens-test.npz")).strip().split("\n")[1:]
    ours = np.array([[float(v) for v in line.split(",")] for line in lines], dtype=np.float32)
    err = float(np.max(np.abs(ours - theirs))) if ours.shape == theirs.shape else float("inf")
    check(err <= 1e-4, "encoder train: predict equals onnxruntime (max abs err %.1e)" % err)
    acc = float(np.mean(theirs.argmax(1) == test["label"]))
    ev = json.loads(aic("evaluate", p("enc.onnx"), "--data", os.path.join(ENC, "tokens-test.npz"), "--json"))
    check(abs(ev["metrics"]["accuracy"] - acc) < 1e-12, "encoder train: evaluate accuracy %.4f equals onnxruntime's" % acc)
    check(acc > 0.9 and base_acc < 0.6, "encoder train: onnxruntime accuracy %.4f > 0.9 (untrained %.4f)" % (acc, base_acc))
    w0, w1 = weights(init), weights(p("enc.onnx"))
    check(all(np.array_equal(w0[k], w1[k]) for k in w0 if w0[k].ndim == 0), "encoder train: the scalar constants are unchanged")

    # one full-batch gradient step against numpy's float64 finite differences
    tiny_model, tiny = os.path.join(ENC, "encoder-tiny.onnx"), load("tokens-tiny.npz")
    aic("train", tiny_model, "--data", os.path.join(ENC, "tokens-tiny.npz"), "--optimizer", "gd", "--lr", "1", "--epochs", "1",
        "-q", p("step.onnx"))
    w0, w1 = weights(tiny_model), weights(p("step.onnx"))
    loss = lambda w: cross_entropy(fx.forward(w, tiny), tiny["label"])  # noqa: E731
    rng = np.random.default_rng(7)
    worst, rel, tensors, h = 0.0, 0.0, 0, 1e-4
    for name, a in w0.items():
        if a.dtype != np.float32 or a.ndim == 0:
            continue
        g = w0[name].astype(np.float64) - w1[name].astype(np.float64)  # lr 1: the update is -g
        for d in (g / max(np.linalg.norm(g), 1e-30), rng.normal(size=a.shape)):
            up, down = dict(w0), dict(w0)
            up[name], down[name] = w0[name] + h * d, w0[name] - h * d
            numeric, analytic = (loss(up) - loss(down)) / (2 * h), float(np.sum(g * d))
            worst = max(worst, abs(numeric - analytic) / (1e-3 * abs(numeric) + 1e-5))
            rel = max(rel, abs(numeric - analytic) / max(abs(numeric), 1e-3))
        tensors += 1
    check(worst <= 1 and tensors == 41, "encoder one gd step: the update of each of %d tensors is the numpy float64 gradient "
          "(largest relative error %.1e; %.3f of the 0.1%% + 1e-5 bound)" % (tensors, rel, worst))

    aic("distill", "--teacher", p("enc.onnx"), "--student", os.path.join(ENC, "encoder-student-init.onnx"), "--data",
        os.path.join(ENC, "tokens-train.npz"), "--epochs", "6", "--lr", "0.003", "-q", p("student.onnx"))
    onnx.checker.check_model(onnx.load(p("student.onnx")), full_check=True)
    theirs = ort_logits(p("student.onnx"), test)
    lines = aic("predict", p("student.onnx"), "--data", os.path.join(ENC, "tokens-test.npz")).strip().split("\n")[1:]
    ours = np.array([[float(v) for v in line.split(",")] for line in lines], dtype=np.float32)
    err = float(np.max(np.abs(ours - theirs))) if ours.shape == theirs.shape else float("inf")
    sacc = float(np.mean(theirs.argmax(1) == test["label"]))
    check(err <= 1e-4 and sacc > 0.85, "encoder distill 2 -> 1 layers: predict equals onnxruntime (max abs err %.1e), "
          "accuracy %.4f > 0.85 (teacher %.4f)" % (err, sacc, acc))

    aic("prune", "--keep", "0.5", "-q", p("enc.onnx"), p("encp.onnx"))
    aic("train", p("encp.onnx"), "--data", os.path.join(ENC, "tokens-train.npz"), "--epochs", "2", "--lr", "0.003", "-q", p("encpt.onnx"))
    pruned, tuned = weights(p("encp.onnx")), weights(p("encpt.onnx"))
    kept = all(np.all(tuned[k][pruned[k] == 0] == 0) for k in pruned if pruned[k].ndim == 2 and pruned[k].dtype == np.float32)
    check(kept, "encoder prune 50% + train: every pruned zero stays zero")
    pacc = float(np.mean(ort_logits(p("encp.onnx"), test).argmax(1) == test["label"]))
    tacc = float(np.mean(ort_logits(p("encpt.onnx"), test).argmax(1) == test["label"]))
    check(tacc >= acc - 0.02, "encoder prune 50%% + train: onnxruntime accuracy trained %.4f, pruned %.4f, fine-tuned %.4f"
          % (acc, pacc, tacc))
