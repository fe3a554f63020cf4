#!/usr/bin/env bash
# Benchmark (not a test): load+verify, inspect and convert a ~1 GiB checkpoint, against `cp` of
# the same file in the same run. Prints a Markdown table of medians over RUNS runs (default 5).
# Usage: scripts/bench.sh [SIZE_MIB]   — data goes to bench-data/ (git-ignored).
set -euo pipefail
size_mib="${1:-1024}"
. "$(dirname "$0")/bench-lib.sh"
bench_release
model="bench-data/model-${size_mib}m.ckpt"
bench_model "$model" "$size_mib"
bytes=$(stat -c %s "$model")
cat "$model" > /dev/null   # warm the page cache: every command reads from memory

results=(
    "$(measure cp cp "$model" bench-data/out.ckpt)"
    "$(measure "cp+sync" sh -c "cp '$model' bench-data/out.ckpt && sync bench-data/out.ckpt")"
    "$(measure verify "$bin" verify "$model")"
    "$(measure inspect "$bin" inspect "$model")"
    "$(measure convert "$bin" convert "$model" bench-data/out.ckpt)"
    "$(measure "convert_--sync" "$bin" convert --sync "$model" bench-data/out.ckpt)"
)
cp_time=$(echo "${results[0]}" | awk '{print $2}')
echo "file: $model, $bytes bytes; $runs runs each, median wall time; $(nproc) cores"
echo
table "$bytes" "$cp_time" "${results[@]}"
