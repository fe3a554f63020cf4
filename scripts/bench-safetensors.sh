#!/usr/bin/env bash
# Benchmark (not a test): a ~1 GiB safetensors file -> .ckpt -> safetensors, against `cp` in the
# same run. Usage: scripts/bench-safetensors.sh   (RUNS=5 by default; data in bench-data/)
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
bench_release
st=bench-data/model-1024m.safetensors
bench_model "$st" 1024
"$bin" convert "$st" bench-data/st-as.ckpt
bytes=$(stat -c %s "$st")
cat "$st" bench-data/st-as.ckpt > /dev/null
results=(
    "$(measure cp cp "$st" bench-data/out.copy)"
    "$(measure "safetensors -> ckpt" "$bin" convert "$st" bench-data/out.ckpt)"
    "$(measure "ckpt -> safetensors" "$bin" convert bench-data/st-as.ckpt bench-data/out.safetensors)"
    "$(measure "inspect safetensors" "$bin" inspect "$st")"
)
rm -f bench-data/st-as.ckpt
echo "file: $st, $bytes bytes; $RUNS runs each, median wall time; $(nproc) cores"
echo
table "$bytes" "$(echo "${results[0]}" | awk '{print $2}')" "${results[@]}"
