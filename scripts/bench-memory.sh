#!/usr/bin/env bash
# Benchmark (not a test): peak resident memory and time of quantize --int8, prune (per tensor
# and --scope global), convert and dequantize on the ~1 GiB checkpoint, to each output format,
# with `cp` of the same file in the same run for the speed ratio.
# Usage: scripts/bench-memory.sh [AICOMPRESS]   (default: the release build; RUNS=3 by default)
set -euo pipefail
RUNS="${RUNS:-3}"
. "$(dirname "$0")/bench-lib.sh"
if [ -n "${1:-}" ]; then bin="$1"; else bench_release; fi
model=bench-data/model-1024m.ckpt
bench_model "$model" 1024
[ -f bench-data/int8-1024m.ckpt ] || "$bin" quantize -q --int8 "$model" bench-data/int8-1024m.ckpt
bytes=$(stat -c %s "$model")
cat "$model" bench-data/int8-1024m.ckpt > /dev/null
results=("$(measure cp cp "$model" bench-data/out.copy)")
for ext in ckpt safetensors onnx; do
    results+=(
        "$(measure "quantize --int8 -> $ext" "$bin" quantize -q --int8 "$model" "bench-data/out.$ext")"
        "$(measure "prune --keep 0.3 -> $ext" "$bin" prune -q --keep 0.3 "$model" "bench-data/out.$ext")"
        "$(measure "prune --keep 0.3 --scope global -> $ext" "$bin" prune -q --keep 0.3 --scope global "$model" "bench-data/out.$ext")"
        "$(measure "convert -> $ext" "$bin" convert -q "$model" "bench-data/out.$ext")"
        "$(measure "dequantize (int8 in) -> $ext" "$bin" dequantize -q bench-data/int8-1024m.ckpt "bench-data/out.$ext")"
    )
done
echo "model: $model, $bytes bytes; $RUNS runs each, median wall time, largest peak RSS; $(nproc) cores; $bin"
echo
table "$bytes" "$(echo "${results[0]}" | awk '{print $2}')" "${results[@]}"
