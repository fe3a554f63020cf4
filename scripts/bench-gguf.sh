#!/usr/bin/env bash
# Benchmark (not a test): `aicompress quantize --gguf Q4_K_M` against llama.cpp's own
# `llama-quantize ... Q4_K_M NTHREADS` on LLaMA-shaped random-weight GGUF models of about 1 GB
# (TinyLlama-1.1B's shapes, scripts/make-bench-gguf.py): 8 layers in F16 and 3 layers in F32.
# The two run in turn (ours, theirs, ours, theirs, ...) so a drift of the machine's speed hits
# both; each run's wall seconds and peak RSS come from /usr/bin/time. The outputs are compared
# tensor by tensor with gguf-py (same types, same bytes) once per model.
#
# Usage: scripts/bench-gguf.sh            RUNS=3 by default; THREADS (default: the cores) is
#                                         llama-quantize's thread count, and ours uses every core
#   llama-quantize's and ours (one thread per core) match when THREADS is the core count.
#   data in bench-data/ (git-ignored); llama.cpp's tools from scripts/llama-cpp.sh (built and
#   cached outside the clone on first use)
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-$(nproc)}"
bench_release
llama="$(scripts/llama-cpp.sh | tail -n 1)/llama-quantize"
models=(bench-data/llama-8l-f16.gguf bench-data/llama-3l-f32.gguf)
[ -f "${models[0]}" ] || python3 scripts/make-bench-gguf.py "${models[0]}" 8 f16
[ -f "${models[1]}" ] || python3 scripts/make-bench-gguf.py "${models[1]}" 3 f32

# run OUT CMD...: one timed run; prints "wall_seconds peak_kib cpu_seconds" (cpu: user + system).
run() {
    local out="$1"; shift
    rm -f "$out"
    /usr/bin/time -o bench-data/time.txt -f "%e %M %U %S" "$@" >/dev/null 2>&1
    tail -n 1 bench-data/time.txt | awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "$(nproc) cores; llama-quantize with $THREADS threads; $RUNS paired runs per model; medians, largest peak RSS"
echo
echo "| input | bytes | aicompress cpu s | llama-quantize cpu s | cpu ratio | wall ratio | aicompress peak RSS | llama-quantize peak RSS | same bytes |"
echo "|---|---|---|---|---|---|---|---|---|"
for model in "${models[@]}"; do
    ours=bench-data/out.ours.gguf theirs=bench-data/out.theirs.gguf
    a=() b=() r=() rc=() ra=0 rb=0
    for _ in $(seq "$RUNS"); do
        read -r ta ka ca < <(run "$ours" "$bin" quantize --gguf Q4_K_M --quiet "$model" "$ours")
        read -r tb kb cb < <(run "$theirs" "$llama" "$model" "$theirs" Q4_K_M "$THREADS")
        a+=("$ca") b+=("$cb")
        r+=("$(awk -v x="$ta" -v y="$tb" 'BEGIN {printf "%.3f", x / y}')")
        rc+=("$(awk -v x="$ca" -v y="$cb" 'BEGIN {printf "%.3f", x / y}')")
        [ "$ka" -gt "$ra" ] && ra="$ka"
        [ "$kb" -gt "$rb" ] && rb="$kb"
    done
    same=$(python3 - "$theirs" "$ours" <<'EOF'
import sys
import gguf
a, b = (gguf.GGUFReader(p) for p in sys.argv[1:3])
ta = {t.name: (t.tensor_type, t.data.tobytes()) for t in a.tensors}
tb = {t.name: (t.tensor_type, t.data.tobytes()) for t in b.tensors}
print("yes" if ta == tb else "NO")
EOF
)
    printf '| %s | %s | %s | %s | %sx | %sx | %.0f MiB | %.0f MiB | %s |\n' "$(basename "$model")" "$(stat -c %s "$model")" \
        "$(printf '%s\n' "${a[@]}" | median)" "$(printf '%s\n' "${b[@]}" | median)" "$(printf '%s\n' "${rc[@]}" | median)" \
        "$(printf '%s\n' "${r[@]}" | median)" \
        "$(echo "$ra / 1024" | bc -l)" "$(echo "$rb / 1024" | bc -l)" "$same"
done
rm -f bench-data/out.* bench-data/time.txt
