# Shared by the benchmark scripts: `measure NAME CMD...` runs CMD $RUNS times (default 5) and
# prints "NAME median_seconds max_rss_kib"; `table FILE_BYTES BASELINE_SECONDS RESULT...`
# prints the Markdown table; `bench_release` and `bench_model` are the start most of them share.
# Source it as `. "$(dirname "$0")/bench-lib.sh"`: it moves to the repository root and uses
# bench-data/ (git-ignored) for models and scratch files.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p bench-data
RUNS="${RUNS:-5}"
runs="$RUNS"

# bench_release: builds the release binary and sets $bin to it (bench-train.sh takes its binary
# as an argument instead).
bench_release() {
    swift build -c release >/dev/null
    bin=.build/release/aicompress
}

# bench_model FILE MIB [ARGS...]: makes the synthetic model FILE of about MIB MiB, unless it is
# there already, with the scripts/make-bench-*.py for its extension (.ckpt, .safetensors, .onnx;
# ARGS go to that script, e.g. --external).
bench_model() {
    local file="$1" mib="$2" maker
    shift 2
    [ -f "$file" ] && return 0
    case "$file" in
        *.ckpt) maker=scripts/make-bench-model.py ;;
        *.safetensors) maker=scripts/make-bench-safetensors.py ;;
        *.onnx) maker=scripts/make-bench-onnx.py ;;
        *) echo "bench_model: no maker for $file" >&2; return 1 ;;
    esac
    python3 "$maker" "$file" "$mib" "$@"
}

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
