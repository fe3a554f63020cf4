#!/usr/bin/env bash
# Pruning the digits demo models without fine-tuning (issue 18 item 6: "90% sparsity with
# SparseGPT within 3 points of the dense accuracy"): magnitude, Wanda and SparseGPT at several
# keep fractions, calibrated on the train split (CSV), accuracy by `aicompress evaluate` on the
# test split. Prints a markdown table. MLP (64-32-10): fc1 and fc2 are pruned; CNN
# (Conv 8x3x3, MaxPool, Gemm 128-10): only the Gemm weight, fc.weight (1,280 of 1,370 weights). A benchmark, not a test: not run in CI.
#
# Usage: scripts/bench-digits-prune.sh [BIN] [KEEP ...]   (BIN default .build/debug/aicompress;
#        KEEP default 0.3 0.2 0.1)
#        scripts/bench-digits-prune.sh --joint [BIN] [SPARSITY ...]   SparseGPT's joint sparsification
#        + quantization (`prune --method sparsegpt --quantize S`) against `prune --method sparsegpt`
#        then `quantize --S` (round to nearest), int8 and int4, with the output file sizes; the CNN's
#        Conv weight is rounded to nearest unpruned in both (SPARSITY default 0.5 0.8).
#        scripts/bench-digits-prune.sh --global [BIN] [KEEP ...]   adds Wanda and SparseGPT with
#        --scope global (one budget over the layers, spec/calibrated-pruning.md) and the kept
#        weights of each pruned tensor.
#        MODELS="A.ckpt B.onnx" replaces the two demo models (e.g. the wider MLP of
#        `python3 fixtures/make_fixtures.py --wide-digits /tmp/mlp-digits-256.ckpt 256`); a model
#        named cnn-digits.onnx prunes fc.weight only. ALLOCATION=output gives the global columns
#        `--allocation output` (the split searched by the model's output error on the calibration
#        data) instead of the default curves.
set -euo pipefail
joint=false global=false
if [ "${1:-}" = --joint ]; then joint=true; shift; fi
if [ "${1:-}" = --global ]; then global=true; shift; fi
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.build/debug/aicompress}
shift || true
keeps=("$@")
[ ${#keeps[@]} -gt 0 ] || { if $joint; then keeps=(0.5 0.8); else keeps=(0.3 0.2 0.1); fi; }
demo=$root/fixtures/demo
train=$demo/digits-train.csv test=$demo/digits-test.csv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

accuracy() {
    "$bin" evaluate "$1" --data "$test" --json |
        python3 -c 'import json, sys; m = json.load(sys.stdin)["metrics"]; print("%.2f%% (%d/%d)" % (100 * m["accuracy"], m["correct"], m["samples"]))'
}

echo "binary: $bin${ALLOCATION:+ (global columns: --allocation $ALLOCATION)}"
echo
if $joint; then
    size() { wc -c <"$1" | tr -d ' '; }
    echo "| model | sparsity | scheme | joint | prune then quantize | joint bytes | prune-then-quantize bytes |"
    echo "|---|---:|---|---:|---:|---:|---:|"
    for model in mlp-digits.ckpt cnn-digits.onnx; do
        ext=${model##*.}
        echo "| $model | 0 (dense f32) | | $(accuracy "$demo/$model") | | $(size "$demo/$model") | |"
        for s in "${keeps[@]}"; do
            "$bin" prune -q --method sparsegpt --sparsity "$s" --calibration "$train" "$demo/$model" "$tmp/p.$ext"
            for scheme in int8 int4; do
                "$bin" prune -q --method sparsegpt --sparsity "$s" --quantize "$scheme" --calibration "$train" "$demo/$model" "$tmp/j.$ext"
                "$bin" quantize -q "--$scheme" "$tmp/p.$ext" "$tmp/pq.$ext"
                echo "| $model | $s | $scheme | $(accuracy "$tmp/j.$ext") | $(accuracy "$tmp/pq.$ext") | $(size "$tmp/j.$ext") | $(size "$tmp/pq.$ext") |"
            done
        done
    done
    exit 0
fi
read -r -a models <<<"${MODELS:-$demo/mlp-digits.ckpt $demo/cnn-digits.onnx}"
methods=(magnitude wanda sparsegpt)
if $global; then
    methods+=(wanda:global sparsegpt:global)
    echo "| model | keep | magnitude | Wanda | SparseGPT | Wanda global | SparseGPT global | kept per tensor (SparseGPT global) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
else
    echo "| model | keep | magnitude | Wanda | SparseGPT |"
    echo "|---|---:|---:|---:|---:|"
fi
for path in "${models[@]}"; do
    model=$(basename "$path") ext=${path##*.}
    echo "| $model | 1 (dense) | $(accuracy "$path") | | |"
    for keep in "${keeps[@]}"; do
        row="| $model | $keep |"
        for m in "${methods[@]}"; do
            method=${m%%:*}
            out=$tmp/${m/:/-}-$keep.$ext
            args=(prune -q --method "$method" --keep "$keep")
            [ "$m" = "$method" ] || args+=(--scope global --allocation "${ALLOCATION:-curves}")
            # Wanda and SparseGPT prune Gemm/MatMul weights only; the CNN's Conv stays dense
            # for magnitude too, so every column prunes the same tensors.
            [ "$model" = cnn-digits.onnx ] && args+=(--include fc.weight)
            [ "$method" = magnitude ] || args+=(--calibration "$train")
            if err=$("$bin" "${args[@]}" "$path" "$out" 2>&1); then
                row+=" $(accuracy "$out") |"
            else
                row+=" refused: ${err%%$'\n'*} |"
            fi
        done
        if $global; then
            row+=" $("$bin" inspect "$tmp/sparsegpt-global-$keep.$ext" --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tensors"]
print(", ".join("%s %d/%d" % (x["name"], x["parameters"] - x["zeros"], x["parameters"]) for x in t if x["name"].endswith("weight")))') |"
        fi
        echo "$row"
    done
done
