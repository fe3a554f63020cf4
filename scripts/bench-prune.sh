#!/usr/bin/env bash
# Benchmark (not a test): prune --keep 0.3 (global and per tensor) on a ~1 GiB checkpoint and
# on a real model, against `cp` and a numpy reference (np.partition for the global threshold)
# in the same run. Usage: scripts/bench-prune.sh [REAL_SAFETENSORS]   (RUNS=3 by default)
set -euo pipefail
RUNS="${RUNS:-3}"
. "$(dirname "$0")/bench-lib.sh"
bench_release
bench_model bench-data/model-1024m.ckpt 1024
bench_model bench-data/model-1024m.safetensors 1024
cat > bench-data/numpy_prune.py <<'PY'
import sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file
# Global magnitude pruning keeping 30%: np.partition finds the threshold, then masks.
with safe_open(sys.argv[1], "np") as f:
    names = list(f.keys())
    mags = np.concatenate([np.abs(f.get_tensor(n)).ravel() for n in names])
    k = int(round(0.3 * mags.size))
    threshold = np.partition(mags, mags.size - k)[mags.size - k]
    del mags
    out = {}
    for n in names:
        w = f.get_tensor(n)
        out[n] = np.where(np.abs(w) >= threshold, w, 0).astype(np.float32)
save_file(out, sys.argv[2])
PY
run_set() {
    local model="$1" st="$2"
    local bytes
    bytes=$(stat -c %s "$model")
    cat "$model" > /dev/null
    local results=(
        "$(measure cp cp "$model" bench-data/out.ckpt)"
        "$(measure "aicompress prune --keep 0.3 --scope global" "$bin" prune -q --keep 0.3 --scope global "$model" bench-data/out.ckpt)"
        "$(measure "aicompress prune --keep 0.3 (per tensor)" "$bin" prune -q --keep 0.3 "$model" bench-data/out.ckpt)"
        "$(measure "aicompress prune --pattern 2:4" "$bin" prune -q --pattern 2:4 "$model" bench-data/out.ckpt)"
    )
    [ -n "$st" ] && results+=("$(measure "numpy np.partition global keep 0.3 (safetensors in and out)" python3 bench-data/numpy_prune.py "$st" bench-data/out.safetensors)")
    echo "model: $model, $bytes bytes; $RUNS runs each, median wall time; $(nproc) cores"
    echo
    table "$bytes" "$(echo "${results[0]}" | awk '{print $2}')" "${results[@]}"
    echo
}
run_set bench-data/model-1024m.ckpt bench-data/model-1024m.safetensors
if [ $# -ge 1 ]; then run_set "$1" "$1"; fi
