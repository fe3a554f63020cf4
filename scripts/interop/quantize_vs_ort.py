#!/usr/bin/env python3
"""Interop check: aicompress's int8/uint8 quantization equals onnxruntime's quantize_dynamic
bit for bit (integers, scales, zero points), per tensor and per channel, on MatMul weights of
varied shapes and distributions (ties at .5, zeros, constant and all-zero tensors); and the
QDQ models aicompress writes run in onnxruntime.

int4 is not onnxruntime's quantizer (its default searches each group's scale by least squares,
ours alone): for it the lane checks that the QDQ model (int4 blocked DequantizeLinear, opset 21,
f32 scales holding the f16 values .ckpt stores, negative where the signed maximum is positive) is
valid, runs in onnxruntime with and without its fused kernels, and computes x @ W with the weights
decoded from its initializers; and that those weights have less error than gguf-py's Q4_0.

Usage: quantize_vs_ort.py BIN. Prints one line per check and a final 'N passed, M failed'."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
import onnxruntime as ort
import logging

from common import Report

logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's pre-processing advice

BIN = sys.argv[1]
report = Report()
check = report.check


def matmul_model(w, path):
    k, n = w.shape
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n])],
        [numpy_helper.from_array(w, "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def initializers(path):
    m = onnx.load(path)
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}, m


def run_both(path, k, seed):
    """Inputs x [5, k], onnxruntime's output without and with graph optimisations, and the
    output's range."""
    plain = ort.SessionOptions()
    plain.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    x = np.random.default_rng(seed).standard_normal((5, k)).astype(np.float32)
    y = ort.InferenceSession(path, plain).run(None, {"x": x})[0]
    y_opt = ort.InferenceSession(path).run(None, {"x": x})[0]
    return x, y, y_opt, max(float(np.abs(y).max()), 1e-30)


def weights():
    rng = np.random.default_rng(0)
    yield "normal", rng.standard_normal((64, 48)).astype(np.float32)
    yield "uniform-positive", rng.uniform(0.1, 3, (33, 17)).astype(np.float32)
    yield "uniform-negative", -rng.uniform(0.1, 3, (16, 8)).astype(np.float32)
    ties = (rng.integers(-254, 255, (40, 24)) / 2).astype(np.float32)  # many exact .5 ratios
    yield "ties", ties
    sparse = rng.standard_normal((50, 30)).astype(np.float32)
    sparse[rng.random((50, 30)) < 0.7] = 0
    yield "70%-zeros", sparse
    yield "constant", np.full((8, 8), 0.37, dtype=np.float32)
    yield "all-zero", np.zeros((8, 4), dtype=np.float32)
    yield "tiny", (rng.standard_normal((12, 6)) * 1e-30).astype(np.float32)
    yield "wide-range", (rng.standard_normal((20, 10)) * np.logspace(-3, 3, 10)).astype(np.float32)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for label, w in weights():
            src = os.path.join(tmp, "m.onnx")
            matmul_model(w, src)
            for per_channel in (False, True):
                for qtype, flag in ((QuantType.QInt8, "--int8"), (QuantType.QUInt8, "--uint8")):
                    what = f"{label} {w.shape} {flag} {'per-channel' if per_channel else 'per-tensor'}"
                    ref_path = os.path.join(tmp, "ref.onnx")
                    quantize_dynamic(src, ref_path, weight_type=qtype, per_channel=per_channel)
                    ref, _ = initializers(ref_path)
                    out = os.path.join(tmp, "ours.onnx")
                    gran = "--per-channel" if per_channel else "--per-tensor"
                    r = subprocess.run([BIN, "quantize", "-q", flag, gran, src, out], capture_output=True, text=True)
                    if r.returncode != 0:
                        check(False, f"{what}: aicompress failed: {r.stderr.strip()}")
                        continue
                    ours, model = initializers(out)
                    q_ref, s_ref, z_ref = ref["W_quantized"], ref["W_scale"], ref["W_zero_point"]
                    q, s = ours["W_quantized"], ours["W_scale"]
                    z = ours.get("W_zero_point", np.zeros_like(z_ref))
                    same = (q.dtype == q_ref.dtype and np.array_equal(q, q_ref)
                            and s.astype(np.float32).tobytes() == s_ref.astype(np.float32).reshape(s.shape).tobytes()
                            and np.array_equal(z.reshape(-1), z_ref.reshape(-1).astype(z.dtype)))
                    if not same:
                        diff = int(np.sum(q.astype(np.int32) != q_ref.astype(np.int32))) if q.shape == q_ref.shape else -1
                        print(f"  ours scale {s.reshape(-1)[:3]} ref {s_ref.reshape(-1)[:3]}; zp {z.reshape(-1)[:3]} ref "
                              f"{z_ref.reshape(-1)[:3]}; differing integers {diff}")
                    check(same, f"{what}: integers, scales and zero points equal quantize_dynamic's")
                    try:
                        onnx.checker.check_model(model, full_check=True)
                        # Without graph optimisations onnxruntime computes DequantizeLinear then the
                        # float MatMul, which must match our dequantized weights closely; with them
                        # it may fuse into integer kernels (dynamic activation quantization), which
                        # only has to be near.
                        x, y, y_opt, scale_y = run_both(out, w.shape[0], seed=1)
                        check(float(np.abs(y_opt - y).max()) <= 0.05 * scale_y + 1e-4,
                              f"{what}: optimised onnxruntime session agrees within 5% of the output range")
                        zf = z.astype(np.float32).reshape(1, -1) if per_channel else np.float32(z)
                        sf = s.astype(np.float32).reshape(1, -1) if per_channel else np.float32(s)
                        deq = (q.astype(np.float32) - zf) * sf
                        check(np.allclose(y, x @ deq, rtol=1e-4, atol=1e-6 * scale_y), f"{what}: QDQ model runs in onnxruntime with the dequantized weights")
                    except Exception as e:  # noqa: BLE001
                        check(False, f"{what}: QDQ model: {e}")
        int4_checks(tmp)
    sys.exit(report.finish())


def int4_checks(tmp):
    from gguf import GGMLQuantizationType, quants
    rng = np.random.default_rng(2)
    cases = [("normal", rng.standard_normal((128, 48)).astype(np.float32)),
             ("heavy-tailed", (rng.standard_t(4, (256, 64)) * 0.02).astype(np.float32)),
             ("70%-zeros", np.where(rng.random((64, 32)) < 0.7, 0, rng.standard_normal((64, 32))).astype(np.float32))]
    for label, w in cases:
        src, out = os.path.join(tmp, "m4.onnx"), os.path.join(tmp, "ours4.onnx")
        matmul_model(w, src)
        what = f"{label} {w.shape} --int4 (default: groups of 32 along K, least squares, f16 scales)"
        r = subprocess.run([BIN, "quantize", "-q", "--int4", src, out], capture_output=True, text=True)
        if not check(r.returncode == 0, f"{what}: aicompress quantizes", r.stderr.strip()):
            continue
        ours, model = initializers(out)
        q, s = ours["W_quantized"].astype(np.float32), ours["W_scale"].astype(np.float32)
        node = next(n for n in model.graph.node if n.op_type == "DequantizeLinear")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        check(attrs.get("axis") == 0 and attrs.get("block_size") == 32 and len(node.input) == 2,
              f"{what}: blocked DequantizeLinear along axis 0, no zero point ({attrs})")
        check(s.astype(np.float16).astype(np.float32).tobytes() == s.tobytes(), f"{what}: every scale is an f16 value")
        check(q.min() >= -8 and q.max() <= 7, f"{what}: integers in [-8, 7] (min {q.min():.0f}, max {q.max():.0f})")
        deq = q * np.repeat(s, 32, axis=0)[: w.shape[0]]
        try:
            onnx.checker.check_model(model, full_check=True)
            x, y, y_opt, scale_y = run_both(out, w.shape[0], seed=3)
            check(np.allclose(y, x @ deq, rtol=1e-4, atol=1e-5 * scale_y), f"{what}: onnxruntime computes x @ W with the decoded weights")
            # The fused path (MatMulNBits) quantizes the activations too: about 0.6% of the output
            # range apart, the same with the previous min-max default and positive scales.
            check(float(np.abs(y_opt - y).max()) <= 0.02 * scale_y,
                  f"{what}: onnxruntime's fused kernels agree within 2% of the output range "
                  f"({float(np.abs(y_opt - y).max()) / scale_y:.4f})")
        except Exception as e:  # noqa: BLE001
            check(False, f"{what}: QDQ model: {e}")
        # gguf-py's Q4_0 quantizes rows of 32 along the last axis: W's columns are the K axis.
        wt = np.ascontiguousarray(w.T)
        ref = quants.dequantize(quants.quantize(wt, GGMLQuantizationType.Q4_0), GGMLQuantizationType.Q4_0).T
        e_ours, e_ref = float(((w - deq) ** 2).sum()), float(((w - ref) ** 2).sum())
        check(e_ours <= e_ref, f"{what}: squared error {e_ours:.4g} <= gguf-py Q4_0's {e_ref:.4g} (ratio {e_ours / e_ref:.3f})")


main()
