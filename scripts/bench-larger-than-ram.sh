#!/usr/bin/env bash
# Benchmark (not a test, not in CI): a sharded bf16 safetensors model larger than this machine's
# memory (default 32 GiB, LLaMA-7B-like shapes, scripts/make-bench-llama.py) quantized in one
# process each to int8 safetensors and to GGUF Q4_K_M, with time and peak RSS (/usr/bin/time -v).
# Usage: scripts/bench-larger-than-ram.sh [SIZE_GIB]   (needs the model plus its int8 output,
# about 1.5x SIZE_GIB of free disk, as each output is removed before the next run; everything is
# written under bench-data/llama-SIZE and removed at the end unless KEEP=1)
# Run plan at 32 GiB on a 2-core VM with a ~50-100 MB/s shared disk: writing the model alone is
# 6-11 min, each quantize reads it back from disk (it does not fit the page cache), and Q4_K_M's
# search is CPU-bound: well over 20 min in all, so run it on a quiet machine.
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
size="${1:-32}"
bench_release
dir="bench-data/llama-$size"
[ -f "$dir/model.safetensors.index.json" ] || python3 scripts/make-bench-llama.py "$dir" "$size"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$dir"' EXIT
bytes=$(stat -c %s "$dir"/*.safetensors | awk '{n += $1} END {print n}')  # not `cat | wc`: 32 GiB read
mem=$(awk '/MemTotal/ {print $2 * 1024}' /proc/meminfo)
echo "model: $dir, $bytes bytes in $(ls "$dir"/*.safetensors | wc -l) shards; machine memory $mem bytes; $(nproc) cores"
run() {
    local name="$1"; shift
    /usr/bin/time -v -o "$dir/time.txt" "$@" >/dev/null 2>"$dir/err.txt" || { cat "$dir/err.txt" >&2; exit 1; }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time.txt")
    awk -v n="$name" -v w="$wall" -v k="$rss" -v b="$bytes" 'BEGIN {
        printf "| %s | %s | %.0f MiB | %.3f |\n", n, w, k / 1024, k * 1024 / b }'
    rm -rf "$dir"/out*
}
echo
echo "| command | wall (h:mm:ss) | peak RSS | RSS / model |"
echo "|---|---|---|---|"
run "quantize --int8 -> sharded safetensors (--shard-size 4GiB)" \
    "$bin" quantize -q --int8 --shard-size 4GiB "$dir/model.safetensors.index.json" "$dir/out.safetensors"
run "quantize --gguf Q4_K_M -> .gguf" "$bin" quantize -q --gguf Q4_K_M "$dir/model.safetensors.index.json" "$dir/out.gguf"
