#!/usr/bin/env bash
# Benchmark (not a test): load+verify, inspect and convert a ~1 GiB checkpoint, against `cp` of
# the same file in the same run. Prints a Markdown table of medians over RUNS runs (default 5).
# Usage: scripts/bench.sh [SIZE_MIB]   — data goes to bench-data/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-1024}"
runs="${RUNS:-5}"
swift build -c release >/dev/null
bin=.build/release/aicompress
mkdir -p bench-data
model="bench-data/model-${size_mib}m.ckpt"
[ -f "$model" ] || python3 scripts/make-bench-model.py "$model" "$size_mib"
bytes=$(stat -c %s "$model")
cat "$model" > /dev/null   # warm the page cache: every command reads from memory

# measure NAME CMD... : runs CMD $runs times, prints "NAME median_seconds max_rss_kib"
measure() {
    local name="$1"; shift
    local times=() rss=0
    for _ in $(seq "$runs"); do
        rm -f bench-data/out.ckpt
        local line
        /usr/bin/time -o bench-data/time.txt -f "%e %M" "$@" >/dev/null 2>&1
        line=$(tail -n 1 bench-data/time.txt)
        times+=("${line% *}")
        local r="${line#* }"
        [ "$r" -gt "$rss" ] && rss="$r"
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$name $median $rss"
}

results=(
    "$(measure cp cp "$model" bench-data/out.ckpt)"
    "$(measure "cp+sync" sh -c "cp '$model' bench-data/out.ckpt && sync bench-data/out.ckpt")"
    "$(measure verify "$bin" verify "$model")"
    "$(measure inspect "$bin" inspect "$model")"
    "$(measure convert "$bin" convert "$model" bench-data/out.ckpt)"
    "$(measure "convert_--sync" "$bin" convert --sync "$model" bench-data/out.ckpt)"
)
rm -f bench-data/out.ckpt
cp_time=$(echo "${results[0]}" | awk '{print $2}')
echo "file: $model, $bytes bytes; $runs runs each, median wall time; $(nproc) cores"
echo
echo "| command | seconds | GB/s | speed vs cp | peak RSS | RSS / file |"
echo "|---|---|---|---|---|---|"
for r in "${results[@]}"; do
    read -r name t kib <<<"$r"
    name="${name//_/ }"
    awk -v n="$name" -v t="$t" -v k="$kib" -v b="$bytes" -v c="$cp_time" 'BEGIN {
        gbs = (t > 0) ? b / t / 1e9 : 0; rel = (t > 0) ? c / t : 0;
        printf "| %s | %.3f | %.2f | %.2fx | %.0f MiB | %.2f |\n", n, t, gbs, rel, k / 1024, k * 1024 / b }'
done
