#!/usr/bin/env python3
"""Interop check on models nobody made for aicompress's tests: scikit-learn estimators trained on
its bundled digits and diabetes data (no download) and converted by skl2onnx (Cast, MatMul + Add
with [1, N] intercepts, Scaler, LinearClassifier, Normalizer, LinearRegressor, ArgMax,
ArrayFeatureExtractor; TreeEnsembleClassifier, which the executor does not run).

For each model: `predict` agrees with onnxruntime on every output, `evaluate` reports the
accuracy (or MSE) computed from onnxruntime's outputs; then int8, int4 (groups of 16) and a 50% prune of
the MLPs give models that pass onnx.checker (full check), whose onnxruntime outputs `predict`
reproduces (onnxruntime run without graph optimizations: with them it fuses DequantizeLinear
into kernels of its own rounding, 0.03 away on the scaled MLP), and whose weights `dequantize`
decodes bit for bit as onnxruntime's DequantizeLinear does. `prune --pattern channels` shrinks
every hidden layer of the MLPs (weight columns, [1, N] intercepts, the next layer's rows), and the
shrunk file's onnxruntime outputs equal the original's with those channels zeroed. A tree ensemble is refused naming
the node and exit 65; a model without weight tensors (LinearClassifier keeps its coefficients in
attributes) is refused by quantize with exit 64.

Usage: sklearn_models.py BIN. Prints one line per check and a final 'N passed, M failed'."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from sklearn.datasets import load_diabetes, load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skl2onnx import to_onnx

from common import Report, executable, scratch_folder

warnings.filterwarnings("ignore")  # MLP convergence warnings
ort.set_default_logger_severity(3)
report = Report()
check = report.check
BIN = executable(report, sys.argv[1]) if len(sys.argv) > 1 else None


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)


def ours(model, data):
    """`predict` of every output, as one array (rows × the outputs' columns in order), or the
    failed process."""
    p = run("predict", model, "--data", data)
    if p.returncode:
        return p
    return np.array([[float(v) for v in row.split(",")] for row in p.stdout.strip().splitlines()[1:]])


def session(path, optimize=True):
    so = ort.SessionOptions()
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def agrees(tag, model, data, x, optimize=True, bound=1e-5):
    """Every output of `model` from `predict` against onnxruntime's: max |Δ| within `bound`
    relative to the largest output (labels exactly)."""
    s = session(model, optimize)
    got = ours(model, data)
    if isinstance(got, subprocess.CompletedProcess):
        check(False, f"{tag}: predict", got.stderr.strip()[:200])
        return
    column = 0
    for o, r in zip(s.get_outputs(), s.run(None, {s.get_inputs()[0].name: x})):
        r = r.reshape(len(x), -1).astype(np.float64)
        mine = got[:, column:column + r.shape[1]]
        column += r.shape[1]
        if not check(mine.shape == r.shape, f"{tag}: {o.name} has onnxruntime's shape", f"{mine.shape} vs {r.shape}"):
            continue
        err = float(np.abs(mine - r).max())
        limit = 0 if o.name == "label" else bound * max(1.0, float(np.abs(r).max()))
        check(err <= limit, f"{tag}: {o.name} equals onnxruntime's", f"max |Δ| {err:.3g} (bound {limit:.3g})")
    check(column == got.shape[1], f"{tag}: predict prints every output and no more", f"{got.shape[1]} columns, {column} expected")


def dequantize_matches_ort(tag, qmodel, tmp, x):
    """`dequantize` of `qmodel` against onnxruntime evaluating its DequantizeLinear nodes."""
    m = onnx.load(qmodel)
    outs = [n.output[0] for n in m.graph.node if n.op_type == "DequantizeLinear"]
    if not check(outs, f"{tag}: has DequantizeLinear nodes"):
        return
    for o in outs:
        m.graph.output.append(onnx.helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None))
    probe = os.path.join(tmp, "probe.onnx")
    onnx.save(m, probe)
    s = session(probe, optimize=False)
    decoded = s.run(outs, {s.get_inputs()[0].name: x[:1]})
    dq = os.path.join(tmp, "dq.onnx")
    p = run("dequantize", "-q", qmodel, dq)
    if not check(p.returncode == 0, f"{tag}: dequantize", p.stderr.strip()[:200]):
        return
    ours_w = {i.name: numpy_helper.to_array(i) for i in onnx.load(dq).graph.initializer}
    same = sum(np.array_equal(a, ours_w.get(o)) for a, o in zip(decoded, outs))
    check(same == len(outs), f"{tag}: dequantize equals onnxruntime's DequantizeLinear bit for bit", f"{same} of {len(outs)} tensors")


def channels_match_masking(name, data, x):
    """`prune --pattern channels --keep 0.5` of an skl2onnx MLP (MatMul, then Add of [1, N]
    intercepts): every hidden layer shrinks, and onnxruntime's outputs of the shrunk file equal
    those of the original with the removed channels' weight columns and intercepts zeroed."""
    out = f"{name}.channels.onnx"
    p = run("prune", "-q", "--pattern", "channels", "--keep", "0.5", f"{name}.onnx", out)
    if not check(p.returncode == 0, f"{name} channels: prune runs", p.stderr.strip()[:200]):
        return
    orig, small = onnx.load(f"{name}.onnx"), onnx.load(out)
    before = {i.name: numpy_helper.to_array(i) for i in orig.graph.initializer}
    after = {i.name: numpy_helper.to_array(i) for i in small.graph.initializer}
    masked = {k: v.copy() for k, v in before.items()}
    rows = None  # the input rows of the next MatMul that the previous layer kept
    layers = [n for n in orig.graph.node if n.op_type == "MatMul" and n.input[1] in before]
    shrunk = 0
    for node in layers:
        w, w2 = before[node.input[1]], after[node.input[1]]
        w = w if rows is None else w[rows]
        check(w2.shape[0] == w.shape[0], f"{name} channels: {node.input[1]} has the kept inputs", f"{w2.shape} vs {w.shape}")
        if w2.shape[1] == w.shape[1]:
            rows = None
            continue
        kept = [next((j for j in range(w.shape[1]) if np.array_equal(w[:, j], w2[:, c])), -1) for c in range(w2.shape[1])]
        if not check(-1 not in kept and kept == sorted(kept), f"{name} channels: {node.input[1]}'s columns are original ones, in order"):
            return
        shrunk += 1
        drop = [j for j in range(w.shape[1]) if j not in kept]
        masked[node.input[1]][:, drop] = 0
        bias = next((n.input[1] for n in orig.graph.node if n.op_type == "Add" and n.input[0] == node.output[0] and n.input[1] in before), None)
        if bias is not None:
            check(np.array_equal(after[bias], before[bias][..., kept]), f"{name} channels: {bias} keeps the same entries")
            masked[bias][..., drop] = 0
        rows = kept
    check(shrunk == len(layers) - 1, f"{name} channels: every hidden layer shrinks", f"{shrunk} of {len(layers) - 1}")
    for i in orig.graph.initializer:
        i.CopyFrom(numpy_helper.from_array(masked[i.name], i.name))
    onnx.save(orig, f"{name}.masked.onnx")
    a, b = session(out, optimize=False), session(f"{name}.masked.onnx", optimize=False)
    ra = a.run(None, {a.get_inputs()[0].name: x})
    rb = b.run(None, {b.get_inputs()[0].name: x})
    err = max(float(np.abs(u.astype(np.float64) - v.astype(np.float64)).max()) for u, v in zip(ra, rb))
    check(err <= 1e-5, f"{name} channels: the shrunk file's outputs equal the masked original's (onnxruntime)", f"max |Δ| {err:.3g}")
    agrees(f"{name} channels", out, data, x, optimize=False)


def main():
    if BIN is None:
        return report.finish()
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    Xr, yr = load_diabetes(return_X_y=True)
    Xr = Xr.astype(np.float32)
    classifiers = {
        "mlp": MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=40, random_state=0),
        "scaled_mlp": make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(48,), max_iter=40, random_state=0)),
        "logreg": LogisticRegression(max_iter=100),
    }
    regressors = {
        "linreg": LinearRegression(),
        "mlpreg": MLPRegressor(hidden_layer_sizes=(32,), max_iter=100, random_state=0),
    }
    with scratch_folder("aicompress-sklearn-") as tmp:
        np.save(f"{tmp}/x.npy", X[:300]); np.save(f"{tmp}/y.npy", y[:300].astype(np.int64))
        np.save(f"{tmp}/xr.npy", Xr[:100]); np.save(f"{tmp}/yr.npy", yr[:100].astype(np.float32))
        models = {}
        for name, est in classifiers.items():
            est.fit(X[300:], y[300:])
            onnx.save(to_onnx(est, X[:1], options={id(est): {"zipmap": False}}, target_opset=17), f"{tmp}/{name}.onnx")
            models[name] = ("x.npy", "y.npy", X[:300])
        for name, est in regressors.items():
            est.fit(Xr[100:], yr[100:])
            onnx.save(to_onnx(est, Xr[:1], target_opset=17), f"{tmp}/{name}.onnx")
            models[name] = ("xr.npy", "yr.npy", Xr[:100])
        os.chdir(tmp)
        for name, (data, labels, x) in models.items():
            agrees(name, f"{name}.onnx", data, x)
            p = run("evaluate", f"{name}.onnx", "--data", data, "--labels", labels, "--json")
            if not check(p.returncode == 0, f"{name}: evaluate", p.stderr.strip()[:200]):
                continue
            metrics = json.loads(p.stdout)["metrics"]
            s = session(f"{name}.onnx")
            out = s.run(None, {s.get_inputs()[0].name: x})[0].reshape(len(x), -1)
            truth = np.load(labels)
            if name in classifiers:
                acc = float((out[:, 0] == truth).mean())
                check(abs(metrics["accuracy"] - acc) < 1e-12, f"{name}: evaluate accuracy is onnxruntime's", f"{metrics['accuracy']} vs {acc}")
            else:
                mse = float(((out[:, 0].astype(np.float64) - truth) ** 2).mean())
                check(abs(metrics["mse"] - mse) <= 1e-6 * mse, f"{name}: evaluate MSE is onnxruntime's", f"{metrics['mse']} vs {mse}")
        for name in ("mlp", "scaled_mlp"):
            data, _, x = models[name]
            for tag, args in (("int8", ["quantize", "--int8"]), ("int4", ["quantize", "--int4", "--group-size", "16"]),
                              ("prune", ["prune", "--keep", "0.5"])):
                out = f"{name}.{tag}.onnx"
                p = run(*args, "-q", f"{name}.onnx", out)
                if not check(p.returncode == 0, f"{name} {tag}", p.stderr.strip()[:200]):
                    continue
                try:
                    onnx.checker.check_model(onnx.load(out), full_check=True)
                    check(True, f"{name} {tag}: onnx.checker (full)")
                except Exception as e:  # noqa: BLE001 - the checker's message is the detail
                    check(False, f"{name} {tag}: onnx.checker (full)", str(e)[:200])
                agrees(f"{name} {tag}", out, data, x, optimize=False)
                if tag != "prune":
                    dequantize_matches_ort(f"{name} {tag}", out, tmp, x)
        for name in ("mlp", "scaled_mlp"):
            channels_match_masking(name, models[name][0], models[name][2])
        rf = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X[300:], y[300:])
        onnx.save(to_onnx(rf, X[:1], options={id(rf): {"zipmap": False}}, target_opset=17), "rf.onnx")
        p = run("predict", "rf.onnx", "--data", "x.npy")
        check(p.returncode == 65 and "TreeEnsembleClassifier" in p.stderr and "not supported" in p.stderr,
              "tree ensemble: predict refuses it naming the op (65)", f"exit {p.returncode}: {p.stderr.strip()[:200]}")
        p = run("quantize", "-q", "logreg.onnx", "logreg.q8.onnx")
        check(p.returncode == 64 and "no tensor selected" in p.stderr and not os.path.exists("logreg.q8.onnx"),
              "logistic regression (coefficients in attributes): quantize refuses, no output (64)", f"exit {p.returncode}: {p.stderr.strip()[:200]}")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
