#!/usr/bin/env bash
# Start-up time: the median wall time of `aicompress inspect` on the small demo checkpoint
# (fixtures/demo/mlp-digits.ckpt, 10 KB), where nearly all of the time is start-up.
#   scripts/bench-startup.sh [BINARY ...]   (default: the packaged binary from dist/, and
#                                            .build/release/aicompress if built)
#   scripts/bench-startup.sh --pair A B     A and B run in turn (A B A B ...), RUNS pairs: each
#                                            one's median and the median of the pair ratios A/B,
#                                            which a machine whose speed drifts moves least
# Uses hyperfine when installed (apt-get install hyperfine), else a loop timed with bash's
# EPOCHREALTIME (no process started for the clock). RUNS (default 200) sets the number of timed runs.
# Each call ends with the floor of the same run: /bin/true timed the same way (starting any
# process costs that much here; on a busy machine it rises with the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-200}
demo=fixtures/demo/mlp-digits.ckpt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
load() { echo "$runs runs, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"; }
# Microseconds since the epoch, from EPOCHREALTIME (seconds.microseconds).
now() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }
median() { sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'; }

if [ "${1:-}" = "--pair" ]; then
    [ $# -eq 3 ] || { echo "bench-startup: --pair takes two binaries" >&2; exit 1; }
    a=$2 b=$3
    for x in "$a" "$b"; do
        "$x" inspect "$demo" > /dev/null || { echo "bench-startup: $x inspect $demo failed" >&2; exit 1; }
        for _ in 1 2 3 4 5 6 7 8 9 10; do "$x" inspect "$demo" > /dev/null; done
    done
    for _ in $(seq "$runs"); do
        t0=$(now); "$a" inspect "$demo" > /dev/null; t1=$(now); "$b" inspect "$demo" > /dev/null; t2=$(now)
        echo "$((t1 - t0)) $((t2 - t1))"
    done > "$work/pairs"
    ma=$(cut -d' ' -f1 "$work/pairs" | median)
    mb=$(cut -d' ' -f2 "$work/pairs" | median)
    ratio=$(awk '{ printf "%.6f\n", $1 / $2 }' "$work/pairs" | median)
    awk -v a="$ma" -v b="$mb" -v r="$ratio" -v A="$a" -v B="$b" \
        'BEGIN { printf "A %.2f ms median  %s\nB %.2f ms median  %s\nA/B %.3f (median of the pair ratios)\n", a / 1000, A, b / 1000, B, r }'
    echo "($(load), inspect $demo)"
    exit 0
fi

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
for b in "${bins[@]}" /bin/true; do
    [ "$b" = /bin/true ] || "$b" inspect "$demo" > /dev/null || { echo "bench-startup: $b inspect $demo failed" >&2; exit 1; }
    if command -v hyperfine > /dev/null; then
        hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/h.json" "$b inspect $demo" > /dev/null
        median=$(sed -n 's/.*"median": *\([0-9.e-]*\).*/\1/p' "$work/h.json" | head -n 1)
        ms=$(awk -v s="$median" 'BEGIN { printf "%.2f", s * 1000 }')
        # CPU time (user + system, means): less moved by a busy machine than the wall time.
        user=$(sed -n 's/.*"user": *\([0-9.e-]*\).*/\1/p' "$work/h.json" | head -n 1)
        system=$(sed -n 's/.*"system": *\([0-9.e-]*\).*/\1/p' "$work/h.json" | head -n 1)
        ms="$ms ms median, cpu $(awk -v u="$user" -v s="$system" 'BEGIN { printf "%.2f", (u + s) * 1000 }') ms"
    else
        for _ in 1 2 3 4 5 6 7 8 9 10; do "$b" inspect "$demo" > /dev/null; done
        for _ in $(seq "$runs"); do
            t0=$(now); "$b" inspect "$demo" > /dev/null; t1=$(now)
            echo $((t1 - t0))
        done > "$work/times"
        ms="$(median < "$work/times" | awk '{ printf "%.2f", $1 / 1000 }') ms median"
    fi
    if [ "$b" = /bin/true ]; then echo "$ms  floor: /bin/true  ($(load))"; else echo "$ms  $b inspect $demo  ($(load))"; fi
done
