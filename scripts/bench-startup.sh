#!/usr/bin/env bash
# Start-up time: the median wall time of `aicompress inspect` on the small demo checkpoint
# (fixtures/demo/mlp-digits.ckpt, 10 KB), where nearly all of the time is start-up.
#   scripts/bench-startup.sh [BINARY ...]   (default: the packaged binary from dist/, and
#                                            .build/release/aicompress if built)
# Uses hyperfine when installed (apt-get install hyperfine), else a loop timed with date +%s%N.
# RUNS (default 200) sets the number of timed runs per binary.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-200}
demo=fixtures/demo/mlp-digits.ckpt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
    archive=$(ls dist/aicompress-*-linux-*.tar.gz 2>/dev/null | head -n 1 || true)
    if [ -n "$archive" ]; then
        tar -xzf "$archive" -C "$work"
        bins+=("$(find "$work" -path '*/bin/aicompress')")
    fi
    [ -x .build/release/aicompress ] && bins+=(.build/release/aicompress)
    [ ${#bins[@]} -gt 0 ] || { echo "bench-startup: nothing to time: run scripts/package.sh or name a binary" >&2; exit 1; }
fi
for b in "${bins[@]}"; do
    "$b" inspect "$demo" > /dev/null || { echo "bench-startup: $b inspect $demo failed" >&2; exit 1; }
    if command -v hyperfine > /dev/null; then
        hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/h.json" "$b inspect $demo" > /dev/null
        median=$(sed -n 's/.*"median": *\([0-9.e-]*\).*/\1/p' "$work/h.json" | head -n 1)
        ms=$(awk -v s="$median" 'BEGIN { printf "%.2f", s * 1000 }')
        # CPU time (user + system, means): less moved by a busy machine than the wall time.
        user=$(sed -n 's/.*"user": *\([0-9.e-]*\).*/\1/p' "$work/h.json" | head -n 1)
        system=$(sed -n 's/.*"system": *\([0-9.e-]*\).*/\1/p' "$work/h.json" | head -n 1)
        ms="$ms ms median, cpu $(awk -v u="$user" -v s="$system" 'BEGIN { printf "%.2f", (u + s) * 1000 }')"
    else
        for _ in 1 2 3 4 5 6 7 8 9 10; do "$b" inspect "$demo" > /dev/null; done
        for _ in $(seq "$runs"); do
            t0=$(date +%s%N); "$b" inspect "$demo" > /dev/null; t1=$(date +%s%N)
            echo $(( t1 - t0 ))
        done | sort -n > "$work/times"
        ms="$(awk '{ t[NR] = $1 } END { printf "%.2f", t[int((NR + 1) / 2)] / 1e6 }' "$work/times") ms median"
    fi
    echo "$ms ms  $b inspect $demo  ($runs runs, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
done
