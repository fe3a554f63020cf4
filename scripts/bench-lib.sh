# Shared by the benchmark scripts: `measure NAME CMD...` runs CMD $RUNS times (default 5) and
# prints "NAME median_seconds max_rss_kib"; `table FILE_BYTES BASELINE_SECONDS RESULT...`
# prints the Markdown table. Source it; it uses bench-data/ for scratch files.
RUNS="${RUNS:-5}"
runs="$RUNS"

measure() {
    local name="$1"; shift
    local times=() rss=0
    for _ in $(seq "$runs"); do
        rm -rf bench-data/out.*
        /usr/bin/time -o bench-data/time.txt -f "%e %M" "$@" >/dev/null 2>&1
        local line r
        line=$(tail -n 1 bench-data/time.txt)
        times+=("${line% *}")
        r="${line#* }"
        [ "$r" -gt "$rss" ] && rss="$r"
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "${name// /_} $median $rss"
}

table() {
    local bytes="$1" base="$2"; shift 2
    echo "| command | seconds | GB/s | speed vs cp | peak RSS | RSS / model |"
    echo "|---|---|---|---|---|---|"
    for r in "$@"; do
        read -r name t kib <<<"$r"
        name="${name//_/ }"
        awk -v n="$name" -v t="$t" -v k="$kib" -v b="$bytes" -v c="$base" 'BEGIN {
            gbs = (t > 0) ? b / t / 1e9 : 0; rel = (t > 0) ? c / t : 0;
            printf "| %s | %.3f | %.2f | %.2fx | %.0f MiB | %.2f |\n", n, t, gbs, rel, k / 1024, k * 1024 / b }'
    done
    rm -rf bench-data/out.* bench-data/time.txt
}
