#!/usr/bin/env python3
"""Interop check: quantizing old-opset models (fixtures/onnx/old-opset/, opsets 6-12) keeps them
valid and computing the same function. For each fixture and each of --int8, --uint8, --int4
(per-tensor and per-channel, and int4's default groups), --uint4, --bf16 and --fp16, aicompress's output must pass
onnx.checker.check_model(full_check=True), run in onnxruntime, and match the float model's
onnxruntime outputs within the scheme's error (argmax equal for the 8-bit and float schemes);
it keeps the model's opset when the quantized form exists there (per-tensor 8-bit from opset
10, fp16 at any opset) and its IR version unless the new opset needs a newer one. The fixture
with an operator outside the converter (refused-*) must be refused with exit 65, one line on
stderr and no output file whenever a newer opset is needed. `convert` keeps every fixture's IR
version and opset.

Opset-6 models run in onnxruntime (which has no opset-6 Gemm kernel) as onnx.version_converter's
opset-7 conversion, an independent reference.

Usage: old_opset.py BIN. Prints one line per check and a final 'N passed, M failed'."""
import glob
import os
import subprocess
import sys

import numpy as np
import onnx
import onnx.version_converter
import onnxruntime as ort
from onnx import helper, numpy_helper

from common import Report, executable, scratch_folder

ort.set_default_logger_severity(3)
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "fixtures", "onnx", "old-opset")
BATCH = 16
IR_FOR_OPSET = [(8, 3), (9, 4), (10, 5), (11, 6), (14, 7), (18, 8), (20, 9), (22, 10)]
# (flags, granularity label, opset the quantized form needs, relative tolerance, argmax must match)
SCHEMES = [
    (["--int8", "--per-tensor"], 10, 0.06, True),
    (["--int8", "--per-channel"], 13, 0.06, True),
    (["--uint8", "--per-tensor"], 10, 0.06, True),
    (["--uint8", "--per-channel"], 13, 0.06, True),
    (["--int4", "--per-tensor"], 21, 0.6, False),
    (["--int4", "--per-channel"], 21, 0.6, False),
    (["--int4"], 21, 0.6, False),  # the default: groups of 32 (per channel where an axis is shorter)
    (["--uint4", "--per-channel"], 21, 0.6, False),
    (["--bf16"], 13, 0.03, True),
    (["--fp16"], 1, 0.005, True),
]


def ir_for(opset):
    return next(ir for top, ir in IR_FOR_OPSET if opset <= top)


def opset_of(m):
    return next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))


def run(m, x, optimize=True):
    if opset_of(m) < 7:
        fixed = onnx.ModelProto()
        fixed.CopyFrom(m)
        for v in list(fixed.graph.input) + list(fixed.graph.output):
            dims = v.type.tensor_type.shape.dim
            if dims and dims[0].dim_param:
                dims[0].dim_value = x.shape[0]
        m = onnx.version_converter.convert_version(fixed, 7)
    options = ort.SessionOptions()
    if not optimize:  # no fusions (DequantizeLinear + MatMul runs as integer MatMul otherwise)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


def dequantized_weights(m):
    """The float value of every weight in our output: DequantizeLinear of initializers (per
    tensor, per axis, blocked) and Cast of fp16/bf16 initializers, computed in numpy, by the
    name the weight had in the float model."""
    inits = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type == "DequantizeLinear" and all(i in inits for i in n.input if i):
            q, s = inits[n.input[0]], inits[n.input[1]]
            z = inits[n.input[2]] if len(n.input) > 2 and n.input[2] else np.zeros_like(s)
            at = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            axis, block = at.get("axis", 1), at.get("block_size", 0)
            if s.size > 1:
                axis %= q.ndim
                if block:
                    s = np.repeat(s, block, axis=axis).take(range(q.shape[axis]), axis=axis)
                    z = np.repeat(z, block, axis=axis).take(range(q.shape[axis]), axis=axis)
                else:
                    shape = [1] * q.ndim
                    shape[axis] = -1
                    s, z = s.reshape(shape), z.reshape(shape)
            out[n.output[0]] = ((q - z) * s).astype(np.float32)
        elif n.op_type == "Cast" and n.input[0] in inits:
            out[n.input[0]] = inits[n.input[0]]
    return out


def with_weights(m, weights):
    """A copy of the float model `m` whose initializers take the values in `weights`."""
    c = onnx.ModelProto()
    c.CopyFrom(m)
    for i, t in enumerate(c.graph.initializer):
        if t.name in weights:
            c.graph.initializer[i].CopyFrom(numpy_helper.from_array(weights[t.name], t.name))
    return c


def input_for(m):
    dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim[1:]]
    return np.random.default_rng(3).uniform(-2, 2, (BATCH, *dims)).astype(np.float32)


def main():
    report = Report()
    check = report.check
    binary = executable(report, sys.argv[1])
    if binary is None:
        return report.finish()
    with scratch_folder("aicompress-old-opset-") as tmp:
        for path in sorted(glob.glob(os.path.join(FIXTURES, "*.onnx"))):
            name = os.path.basename(path)[:-5]
            src = onnx.load(path)
            opset, ir = opset_of(src), src.ir_version
            x = input_for(src)
            ref = run(src, x)
            refused = name.startswith("refused-")
            # convert keeps the IR version and the opset
            out = os.path.join(tmp, name + "-convert.onnx")
            r = subprocess.run([binary, "convert", "-q", path, out], capture_output=True, text=True)
            if check(r.returncode == 0, f"{name}: convert", r.stderr.strip()):
                m = onnx.load(out)
                check((m.ir_version, opset_of(m)) == (ir, opset), f"{name}: convert keeps IR {ir}, opset {opset}",
                      f"got IR {m.ir_version}, opset {opset_of(m)}")
            for flags, needs, tol, argmax in SCHEMES:
                what = f"{name} (opset {opset}) {' '.join(flags)}"
                out = os.path.join(tmp, f"{name}{''.join(flags)}.onnx")
                r = subprocess.run([binary, "quantize", "-q", *flags, path, out], capture_output=True, text=True)
                target = max(opset, needs)
                if refused and target > opset:
                    lines = r.stderr.strip().splitlines()
                    check(r.returncode == 65 and len(lines) == 1 and not os.path.exists(out)
                          and "MeanVarianceNormalization" in r.stderr,
                          f"{what}: refused (exit 65, one line, no output)", f"exit {r.returncode}: {r.stderr.strip()}")
                    continue
                if not check(r.returncode == 0, f"{what}: quantize", r.stderr.strip()):
                    continue
                m = onnx.load(out)
                want_ir = max(ir, ir_for(target)) if target > opset else ir
                if needs == 21:
                    want_ir = max(want_ir, 10)  # INT4 tensors need IR 10
                check((opset_of(m), m.ir_version) == (target, want_ir), f"{what}: opset {target}, IR {want_ir}",
                      f"got opset {opset_of(m)}, IR {m.ir_version}")
                try:
                    onnx.checker.check_model(m, full_check=True)
                    check(True, f"{what}: onnx.checker full_check")
                except Exception as e:  # noqa: BLE001
                    check(False, f"{what}: onnx.checker full_check", str(e).splitlines()[0])
                    continue
                try:
                    y = run(m, x)
                except Exception as e:  # noqa: BLE001
                    check(False, f"{what}: runs in onnxruntime", str(e).splitlines()[0])
                    continue
                # Exactly the float model (at its own opset, old semantics) with our weights' values:
                # the conversion changed nothing but the opset.
                same_w = run(with_weights(src, dequantized_weights(m)), x, optimize=False)
                exact = float(np.abs(run(m, x, optimize=False) - same_w).max()) / max(1.0, float(np.abs(same_w).max()))
                check(exact <= 1e-4, f"{what}: equals the float model run with the quantized weights' values",
                      f"relative max difference {exact:.3g}")
                err = float(np.abs(y - ref).max()) / max(1.0, float(np.abs(ref).max()))
                check(y.shape == ref.shape and err <= tol, f"{what}: outputs within {tol} of the float model",
                      f"relative max error {err:.4g}")
                if argmax and y.ndim >= 2 and y.shape[1] > 1:
                    same = (y.reshape(BATCH, y.shape[1], -1).argmax(1) == ref.reshape(BATCH, ref.shape[1], -1).argmax(1))
                    check(same.all(), f"{what}: argmax equal", f"{int((~same).sum())} differ")
            if name.startswith("conv-softmax"):
                check(np.abs(ref - 1).max() > 0.1, f"{name}: the float reference is not all 1.0")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
