#!/usr/bin/env python3
"""Writes a synthetic MLP-like ONNX model with about SIZE_MIB MiB of float32 initializers, for
benchmarks: 64 square [D, D] MatMul weights (D = round(64 * sqrt(SIZE_MIB)), so exact for
1024 -> D 2048 and 100 -> D 640) chained MatMul -> Relu -> MatMul ..., values
default_rng(0).standard_normal * sqrt(2/D) (He init, so activations stay O(1)
through the 64 layers), float32, opset 17.

Usage: make-bench-onnx.py OUT SIZE_MIB [--external]

--external puts every tensor in one side file OUT.data (location = its basename, offsets
4096-aligned, written tensor by tensor so memory stays at one tensor). Without it the whole
model is one protobuf message, which protobuf caps at 2 GiB: sizes over 1900 MiB need
--external. Needs numpy and onnx.
"""
import argparse
import math
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

COUNT = 64
ALIGN = 4096
MAX_INLINE_MIB = 1900  # protobuf messages must stay under 2 GiB


def main():
    ap = argparse.ArgumentParser(description="synthetic ONNX benchmark model")
    ap.add_argument("out")
    ap.add_argument("size_mib", type=float)
    ap.add_argument("--external", action="store_true", help="all tensors in one OUT.data file")
    args = ap.parse_args()
    if not args.external and args.size_mib > MAX_INLINE_MIB:
        sys.exit(f"{args.size_mib} MiB does not fit in one protobuf message (2 GiB limit): use --external")

    d = max(1, round(64 * math.sqrt(args.size_mib)))
    rng = np.random.default_rng(0)
    data_path = args.out + ".data"
    location = os.path.basename(data_path)
    for p in (args.out, data_path):
        if os.path.lexists(p):
            os.remove(p)

    inits, nodes = [], []
    x = "input"
    data = open(data_path, "wb") if args.external else None
    try:
        for i in range(COUNT):
            w = (rng.standard_normal((d, d), dtype=np.float32) * np.float32(math.sqrt(2.0 / d))).astype("<f4")
            name = f"layers.{i}.weight"
            if data is not None:
                pad = -data.tell() % ALIGN
                data.write(b"\0" * pad)
                offset = data.tell()
                data.write(w.tobytes())
                t = TensorProto()
                t.name = name
                t.data_type = TensorProto.FLOAT
                t.dims.extend([d, d])
                t.data_location = TensorProto.EXTERNAL
                for k, v in (("location", location), ("offset", str(offset)), ("length", str(w.nbytes))):
                    e = t.external_data.add()
                    e.key, e.value = k, v
            else:
                t = numpy_helper.from_array(w, name)
            inits.append(t)
            y = "output" if i == COUNT - 1 else f"h{i}"
            mm = y if i == COUNT - 1 else f"m{i}"
            nodes.append(helper.make_node("MatMul", [x, name], [mm], name=f"layers.{i}.matmul"))
            if i < COUNT - 1:
                nodes.append(helper.make_node("Relu", [mm], [y], name=f"layers.{i}.relu"))
            x = y
            del w
    finally:
        if data is not None:
            data.close()

    g = helper.make_graph(nodes, "bench_mlp",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", d])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", d])],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    m.producer_name = "aicompress-bench"
    m.producer_version = "1"
    helper.set_model_props(m, {"bench.note": "synthetic, numpy default_rng(0)"})
    with open(args.out, "wb") as f:
        f.write(m.SerializeToString())

    total = COUNT * d * d * 4
    where = f" + {location}" if args.external else ""
    print(f"{args.out}{where}: {COUNT} x float32 [{d}, {d}] = {total} bytes ({total / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
