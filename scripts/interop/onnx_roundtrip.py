#!/usr/bin/env python3
"""ONNX interop check (run by CI through scripts/interop.sh).

Usage: onnx_roundtrip.py BIN [--fixtures DIR] [--keep]

BIN is the aicompress binary. For every fixture in FIXTURES below it runs

    BIN convert F x.ckpt ; BIN convert x.ckpt y.onnx     (through the checkpoint format)
    BIN convert F z.onnx                                  (ONNX -> ONNX)
    BIN convert --external-data F e.onnx                  (tensors in a side file)
    BIN convert --sparse-initializers F s.onnx            (fixtures with sparse initializers only)

and checks every output against the original with the reference `onnx` package:
onnx.load + onnx.checker.check_model (full_check where onnx's shape inference can handle the
model), every initializer bit-identical (numpy_helper.to_array bytes + data_type + shape;
sparse initializers compared densified), nodes (op_type, domain, inputs, outputs), node names
and attributes, graph inputs/outputs, opset imports, metadata_props kept; for runnable
fixtures onnxruntime must give bit-identical outputs on the original and the output (STRING
tensors and ZipMap outputs compared by their strings, keys and f32 values)
(numpy default_rng(0) inputs, batch 3, one thread).

Prints one line per check, then `N passed, M failed`; exits 1 if M > 0.
Needs only onnx, onnxruntime and numpy.
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from common import Report, executable, scratch_folder

# name, file under fixtures/onnx, runnable in onnxruntime, onnx.checker full_check
FIXTURES = [
    ("mlp", "mlp.onnx", True, True),
    ("mlp-matmul", "mlp-matmul.onnx", True, True),
    ("cnn", "cnn.onnx", True, True),
    ("external", "external.onnx", True, True),
    # full_check only once the sparse initializers are densified: onnx's shape inference types a
    # sparse initializer as sparse_tensor_type, which MatMul's inference rejects
    ("sparse", "sparse.onnx", True, True),
    ("skl-logreg", "skl-logreg.onnx", True, True),
    ("skl-mlp", "skl-mlp.onnx", True, True),
    # string class labels (a STRING initializer; ZipMap outputs), skl2onnx defaults
    ("skl-mlp-strings", "skl-mlp-strings.onnx", True, True),
    ("skl-logreg-strings", "skl-logreg-strings.onnx", True, True),
    ("all-dtypes", "all-dtypes.onnx", True, True),
    # custom-domain op (com.example::MyOp): structural checks only
    ("metadata", "metadata.onnx", False, False),
]

BATCH = 3
TIMEOUT = 300  # seconds per aicompress run
# --external-data must move at least one tensor out when the model has a tensor this large
# (onnx.save's default size_threshold); smaller ones may stay inline.
EXTERNAL_MIN_BYTES = 1024

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "onnx"))


# ------------------------------------------------------------------ model views

def densify(sp):
    values = numpy_helper.to_array(sp.values)
    indices = numpy_helper.to_array(sp.indices).astype(np.int64)
    dims = [int(d) for d in sp.dims]
    dense = np.zeros(dims, dtype=values.dtype)
    if values.size:
        if indices.ndim == 1:
            dense.reshape(-1)[indices] = values.reshape(-1)
        else:
            dense[tuple(indices.T)] = values.reshape(-1)
    return dense


def value_key(a):
    """Comparable bytes of a value: numeric arrays by their bytes; STRING arrays (object dtype,
    whose bytes are pointers) by their strings; ZipMap's list of dicts by keys and f32 bytes."""
    if isinstance(a, list):
        return repr([sorted((k, np.float32(v).tobytes()) for k, v in d.items()) for d in a]).encode()
    a = np.asarray(a)
    if a.dtype.kind in "OUS":
        return repr((a.shape, [x if isinstance(x, bytes) else str(x) for x in a.ravel().tolist()])).encode()
    return a.dtype.str.encode() + repr(a.shape).encode() + np.ascontiguousarray(a).tobytes()


def initializers(graph):
    """name -> (data_type, shape, bytes, storage) for dense and sparse initializers."""
    out = {}
    for t in graph.initializer:
        a = numpy_helper.to_array(t)
        out[t.name] = (t.data_type, list(a.shape), value_key(a), "dense")
    for sp in graph.sparse_initializer:
        a = densify(sp)
        out[sp.values.name] = (sp.values.data_type, list(a.shape), value_key(a), "sparse")
    return out


def type_view(tp):
    if not tp.HasField("tensor_type"):
        return ("non-tensor", str(tp.WhichOneof("value")))
    tt = tp.tensor_type
    dims = None
    if tt.HasField("shape"):
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
    return (tt.elem_type, dims)


def tensor_view(t):
    a = numpy_helper.to_array(t)
    return ("tensor", t.name, t.data_type, list(a.shape), np.ascontiguousarray(a).tobytes())


def graph_view(g):
    """Everything structural about a graph, nested graphs included (for attribute values)."""
    return (
        "graph", g.name,
        [node_view(n) for n in g.node],
        sorted((k, v[0], v[1], v[2]) for k, v in initializers(g).items()),
        [(v.name, type_view(v.type)) for v in g.input],
        [(v.name, type_view(v.type)) for v in g.output],
    )


def attr_view(a):
    T = onnx.AttributeProto
    kind = a.type
    if kind == T.FLOAT:
        v = np.float32(a.f).tobytes()
    elif kind == T.INT:
        v = a.i
    elif kind == T.STRING:
        v = a.s
    elif kind == T.TENSOR:
        v = tensor_view(a.t)
    elif kind == T.GRAPH:
        v = graph_view(a.g)
    elif kind == T.FLOATS:
        v = np.array(a.floats, np.float32).tobytes()
    elif kind == T.INTS:
        v = list(a.ints)
    elif kind == T.STRINGS:
        v = list(a.strings)
    elif kind == T.TENSORS:
        v = [tensor_view(t) for t in a.tensors]
    elif kind == T.GRAPHS:
        v = [graph_view(g) for g in a.graphs]
    else:
        v = a.SerializeToString()
    return (a.name, kind, v)


def node_view(n):
    return (n.name, n.op_type, n.domain, list(n.input), list(n.output), [attr_view(a) for a in n.attribute])


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"item {i}: {str(x)[:160]} != {str(y)[:160]}"
    return f"length {len(a)} != {len(b)}"


# ------------------------------------------------------------------ onnxruntime

def make_inputs(model):
    """Fixed random inputs (numpy default_rng(0)), symbolic dims = BATCH."""
    rng = np.random.default_rng(0)
    init_names = {t.name for t in model.graph.initializer} | {s.values.name for s in model.graph.sparse_initializer}
    feed = {}
    for v in model.graph.input:
        if v.name in init_names:
            continue
        tt = v.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else BATCH for d in tt.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        if np.issubdtype(dtype, np.floating):
            feed[v.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feed[v.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            feed[v.name] = rng.integers(0, 10, shape).astype(dtype)
    return feed


def run_ort(path, feed):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return names, s.run(None, feed)


# ------------------------------------------------------------------ checks of one output

def external_refs(path):
    m = onnx.load(path, load_external_data=False)
    refs = []
    tensors = list(m.graph.initializer)
    for sp in m.graph.sparse_initializer:
        tensors += [sp.values, sp.indices]
    for t in tensors:
        if t.data_location == TensorProto.EXTERNAL:
            refs.append((t.name, {e.key: e.value for e in t.external_data}))
    return refs


def check_external(rep, label, path, original):
    refs = external_refs(path)
    biggest = max((len(v[2]) for v in initializers(original.graph).values()), default=0)
    need = biggest >= EXTERNAL_MIN_BYTES
    rep.check(len(refs) > 0 or not need, f"{label}: external data used",
              f"{len(refs)} tensor(s) external" + ("" if refs else f" (largest initializer {biggest} bytes; "
                                                               f"{'required' if need else 'not required'} "
                                                               f"from {EXTERNAL_MIN_BYTES})"))
    folder = os.path.dirname(os.path.abspath(path))
    bad = []
    for name, info in refs:
        loc = info.get("location", "")
        p = os.path.normpath(os.path.join(folder, loc))
        if not loc or os.path.isabs(loc) or ".." in loc.replace("\\", "/").split("/"):
            bad.append(f"{name}: location {loc!r} not a plain relative path")
        elif not os.path.isfile(p) or os.path.islink(p) or os.path.dirname(p) != folder:
            bad.append(f"{name}: {loc!r} is not a regular file next to the model")
        else:
            off, length = int(info.get("offset", 0)), info.get("length")
            size = os.path.getsize(p)
            if length is not None and off + int(length) > size:
                bad.append(f"{name}: offset {off} + length {length} > {size}")
    if refs:
        files = sorted({i.get("location", "") for _, i in refs})
        rep.check(not bad, f"{label}: external data locations", "; ".join(bad) or ", ".join(files))


def check_output(rep, label, path, original, original_path, spec, feed, expect_sparse=False):
    _, _, runnable, full_check = spec
    try:
        out = onnx.load(path)  # resolves external data relative to path
    except Exception as e:  # noqa: BLE001
        rep.check(False, f"{label}: onnx.load", f"{type(e).__name__}: {e}")
        return
    rep.check(True, f"{label}: onnx.load")

    full = full_check and not out.graph.sparse_initializer
    try:
        onnx.checker.check_model(out, full_check=full)
        rep.check(True, f"{label}: onnx.checker{' (full_check)' if full else ''}")
    except Exception as e:  # noqa: BLE001
        rep.check(False, f"{label}: onnx.checker{' (full_check)' if full else ''}",
                  f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")

    a, b = initializers(original.graph), initializers(out.graph)
    problems = []
    if sorted(a) != sorted(b):
        problems.append(f"missing {sorted(set(a) - set(b))}, extra {sorted(set(b) - set(a))}")
    for name in a:
        if name in b:
            (ta, sa, ba, _), (tb, sb, bb, _) = a[name], b[name]
            if ta != tb:
                problems.append(f"{name}: data_type {ta} -> {tb}")
            elif sa != sb:
                problems.append(f"{name}: shape {sa} -> {sb}")
            elif ba != bb:
                problems.append(f"{name}: values differ")
    rep.check(not problems, f"{label}: initializers ({len(a)}) bit-identical", "; ".join(problems[:5]))
    if expect_sparse:
        ns = len(out.graph.sparse_initializer)
        rep.check(ns == len(original.graph.sparse_initializer), f"{label}: sparse initializers kept",
                  f"{ns} sparse initializer(s)")

    na = [(n.op_type, n.domain, list(n.input), list(n.output)) for n in original.graph.node]
    nb = [(n.op_type, n.domain, list(n.input), list(n.output)) for n in out.graph.node]
    rep.check(na == nb, f"{label}: nodes ({len(na)}) op_type/domain/inputs/outputs",
              "" if na == nb else first_difference(na, nb))
    va = [node_view(n) for n in original.graph.node]
    vb = [node_view(n) for n in out.graph.node]
    rep.check(va == vb, f"{label}: node names and attributes", "" if va == vb else first_difference(va, vb))

    io_a = ([(v.name, type_view(v.type)) for v in original.graph.input],
            [(v.name, type_view(v.type)) for v in original.graph.output])
    io_b = ([(v.name, type_view(v.type)) for v in out.graph.input],
            [(v.name, type_view(v.type)) for v in out.graph.output])
    rep.check(io_a == io_b, f"{label}: graph inputs/outputs", "" if io_a == io_b else f"{io_a} != {io_b}")

    oa = sorted((o.domain, o.version) for o in original.opset_import)
    ob = sorted((o.domain, o.version) for o in out.opset_import)
    rep.check(oa == ob, f"{label}: opset imports", "" if oa == ob else f"{oa} != {ob}")

    ma = {p.key: p.value for p in original.metadata_props}
    mb = {p.key: p.value for p in out.metadata_props}
    lost = {k: v for k, v in ma.items() if mb.get(k) != v}
    if ma:
        rep.check(not lost, f"{label}: metadata_props kept ({len(ma)})", f"lost/changed {lost}" if lost else "")

    fa = (original.domain, original.model_version, original.doc_string)
    fb = (out.domain, out.model_version, out.doc_string)
    if fa != ("", 0, ""):
        rep.check(fa == fb, f"{label}: model domain/model_version/doc_string", "" if fa == fb else f"{fa} != {fb}")

    if runnable:
        try:
            names_a, ya = run_ort(original_path, feed)
            names_b, yb = run_ort(path, feed)
            same = names_a == names_b and len(ya) == len(yb) and all(value_key(x) == value_key(y) for x, y in zip(ya, yb))
            detail = "" if same else (f"outputs {names_a} vs {names_b}" if names_a != names_b else
                                      "; ".join(f"{n}: differ" for n, x, y in zip(names_a, ya, yb) if value_key(x) != value_key(y)))
            rep.check(same, f"{label}: onnxruntime outputs bit-identical (batch {BATCH})", detail)
        except Exception as e:  # noqa: BLE001
            rep.check(False, f"{label}: onnxruntime outputs bit-identical (batch {BATCH})",
                      f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")


# ------------------------------------------------------------------ driver

def convert(rep, label, binary, args):
    cmd = [binary, "convert", *args]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return rep.check(False, f"{label}: {' '.join(cmd[1:])}", f"{type(e).__name__}: {e}")
    err = r.stderr.decode("utf-8", "replace").strip().splitlines()
    return rep.check(r.returncode == 0, f"{label}: {' '.join(os.path.basename(c) for c in cmd[1:])}",
                     "" if r.returncode == 0 else f"exit {r.returncode}: {err[-1] if err else ''}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("bin")
    ap.add_argument("--fixtures", default=DEFAULT_FIXTURES)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    rep = Report()
    if (binary := executable(rep, args.bin)) is None:
        return rep.finish()

    with scratch_folder("onnx-interop-", args.keep) as tmp:
        for spec in FIXTURES:
            name, file, _, _ = spec
            src = os.path.join(args.fixtures, file)
            try:
                original = onnx.load(src)
            except Exception as e:  # noqa: BLE001
                rep.check(False, f"{name}: load fixture {src}", f"{type(e).__name__}: {e}")
                continue
            feed = make_inputs(original)
            d = os.path.join(tmp, name)
            os.makedirs(d)
            x, y, z, e, s = (os.path.join(d, f) for f in ("x.ckpt", "y.onnx", "z.onnx", "e.onnx", "s.onnx"))

            if convert(rep, name, binary, [src, x]) and convert(rep, name, binary, [x, y]):
                check_output(rep, f"{name} via ckpt (y.onnx)", y, original, src, spec, feed)
            if convert(rep, name, binary, [src, z]):
                check_output(rep, f"{name} direct (z.onnx)", z, original, src, spec, feed)
            if convert(rep, name, binary, ["--external-data", src, e]):
                check_external(rep, f"{name} external (e.onnx)", e, original)
                check_output(rep, f"{name} external (e.onnx)", e, original, src, spec, feed)
            if original.graph.sparse_initializer and convert(rep, name, binary, ["--sparse-initializers", src, s]):
                check_output(rep, f"{name} sparse (s.onnx)", s, original, src, spec, feed, expect_sparse=True)

    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
