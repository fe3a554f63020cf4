#!/usr/bin/env bash
# SparseGPT's joint sparsification + quantization (`prune --method sparsegpt --quantize S`)
# against pruning then quantizing (`prune --method sparsegpt`, then `quantize --S`, round to
# nearest) and the dense model, on the digits demo models: accuracy by `aicompress evaluate` on
# the test split (450 rows), calibration on the train split, and the output file sizes. MLP
# (64-32-10): fc1 and fc2 are pruned; CNN (Conv 8x3x3, MaxPool, Gemm 128-10): fc.weight is pruned,
# the Conv weight is rounded to nearest unpruned in both columns. Prints a markdown table.
# A benchmark, not a test: not run in CI.
#
# Usage: scripts/bench-digits-joint.sh [BIN] [SPARSITY ...]   (BIN default .build/debug/aicompress;
#        SPARSITY default 0.5 0.8)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.build/debug/aicompress}
shift || true
levels=("$@")
[ ${#levels[@]} -gt 0 ] || levels=(0.5 0.8)
demo=$root/fixtures/demo
train=$demo/digits-train.csv test=$demo/digits-test.csv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

accuracy() {
    "$bin" evaluate "$1" --data "$test" --json |
        python3 -c 'import json, sys; m = json.load(sys.stdin)["metrics"]; print("%.2f%%" % (100 * m["accuracy"]))'
}
size() { wc -c <"$1" | tr -d ' '; }

echo "binary: $bin"
echo
echo "| model | sparsity | scheme | joint | prune then quantize | joint bytes | prune-then-quantize bytes |"
echo "|---|---:|---|---:|---:|---:|---:|"
for model in mlp-digits.ckpt cnn-digits.onnx; do
    ext=${model##*.}
    echo "| $model | 0 (dense f32) | | $(accuracy "$demo/$model") | | $(size "$demo/$model") | |"
    for s in "${levels[@]}"; do
        "$bin" prune -q --method sparsegpt --sparsity "$s" --calibration "$train" "$demo/$model" "$tmp/p.$ext"
        for scheme in int8 int4; do
            "$bin" prune -q --method sparsegpt --sparsity "$s" --quantize "$scheme" --calibration "$train" "$demo/$model" "$tmp/j.$ext"
            "$bin" quantize -q "--$scheme" "$tmp/p.$ext" "$tmp/pq.$ext"
            echo "| $model | $s | $scheme | $(accuracy "$tmp/j.$ext") | $(accuracy "$tmp/pq.$ext") | $(size "$tmp/j.$ext") | $(size "$tmp/pq.$ext") |"
        done
    done
done
