#!/usr/bin/env bash
# Benchmark (not a test): int8 per-channel and int4 g128 quantization of a ~1 GiB checkpoint
# (and of a real model when given one), against `cp`, a numpy reference (the same
# onnxruntime formulas, vectorised) and onnxruntime's quantize_dynamic on the ONNX form, all in
# the same run. Usage: scripts/bench-quantize.sh [REAL_MODEL]   (RUNS=3 by default)
set -euo pipefail
RUNS="${RUNS:-3}"
. "$(dirname "$0")/bench-lib.sh"
bench_release
bench_model bench-data/model-1024m.ckpt 1024
bench_model bench-data/model-1024m.safetensors 1024
bench_model bench-data/ext-1024m.onnx 1024 --external

cat > bench-data/numpy_quantize.py <<'PY'
import sys
import numpy as np
from safetensors import safe_open
# int8 symmetric per output channel (axis 0), onnxruntime's formulas, written out once.
out = {}
with safe_open(sys.argv[1], "np") as f:
    for name in f.keys():
        w = f.get_tensor(name)
        absmax = np.maximum(np.abs(w.min(axis=1)), np.abs(w.max(axis=1))).astype(np.float64)
        scale = (2 * absmax / 254).astype(np.float32)
        scale[scale == 0] = 1
        q = np.clip(np.rint(w / scale[:, None]), -128, 127).astype(np.int8)
        out[name] = (q, scale)
np.savez(sys.argv[2], **{k + ".q": v[0] for k, v in out.items()})
PY
cat > bench-data/ort_quantize.py <<'PY'
import sys, logging
logging.getLogger().setLevel(logging.ERROR)
from onnxruntime.quantization import QuantType, quantize_dynamic
quantize_dynamic(sys.argv[1], sys.argv[2], weight_type=QuantType.QInt8, per_channel=True, use_external_data_format=True)
PY

run_set() {
    local model="$1" st="$2" onnx="$3"
    local bytes
    bytes=$(stat -c %s "$model")
    cat "$model" > /dev/null
    local results=(
        "$(measure cp cp "$model" bench-data/out.ckpt)"
        "$(measure "aicompress quantize --int8 (per-channel)" "$bin" quantize -q --int8 "$model" bench-data/out.ckpt)"
        "$(measure "aicompress quantize --int4 --group-size 128" "$bin" quantize -q --int4 --group-size 128 "$model" bench-data/out.ckpt)"
    )
    [ -n "$st" ] && results+=("$(measure "numpy int8 per-channel (safetensors in, npz out)" python3 bench-data/numpy_quantize.py "$st" bench-data/out.npz)")
    [ -n "$onnx" ] && results+=("$(measure "onnxruntime quantize_dynamic int8 per-channel (ONNX)" python3 bench-data/ort_quantize.py "$onnx" bench-data/out.onnx)")
    local cp_time
    cp_time=$(echo "${results[0]}" | awk '{print $2}')
    echo "model: $model, $bytes bytes; $RUNS runs each, median wall time; $(nproc) cores"
    echo
    table "$bytes" "$cp_time" "${results[@]}"
    echo
}

run_set bench-data/model-1024m.ckpt bench-data/model-1024m.safetensors bench-data/ext-1024m.onnx
if [ $# -ge 1 ]; then run_set "$1" "" ""; fi
