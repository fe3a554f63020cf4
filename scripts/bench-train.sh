#!/usr/bin/env bash
# Benchmark (not a test): the training module. `aicompress train` on an MLP 784-256-128-10
# (10,000 synthetic rows, 2 epochs, batch 64; SGD lr 0.01 and Adam lr 0.001) against the same
# loop in numpy (hand-written backward, float32) and PyTorch CPU if installed; `aicompress
# evaluate` on fixtures/demo/mlp-digits.ckpt, fixtures/demo/cnn-digits.onnx (digits-test.csv
# repeated to 50,000 rows) and the 784 MLP (10,000 rows) against onnxruntime — all in the
# same run, so the ratios hold on a noisy shared machine.
# Usage: scripts/bench-train.sh [BIN]   (BIN default .build/release/aicompress; RUNS=3 by
#        default, median; THREADS=1 by default for BLAS / onnxruntime / PyTorch)
# Data: bench-data/train/ (git-ignored), made by scripts/make-bench-train.py when missing.
# Needs python3 with numpy, onnx, onnxruntime; torch optional.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.build/release/aicompress}"
[ -x "$bin" ] || { echo "no executable $bin (swift build -c release, or pass the binary)" >&2; exit 1; }
RUNS="${RUNS:-3}"
THREADS="${THREADS:-1}"
cores=$(nproc)   # before OMP_NUM_THREADS is set: GNU nproc honours it
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" AICOMPRESS_THREADS="$THREADS"
export VECLIB_MAXIMUM_THREADS="$THREADS"
. scripts/bench-lib.sh   # for $runs and the bench-data/ conventions (it makes bench-data/)
runs="$RUNS"
dir=bench-data/train
ref=scripts/bench-train-ref.py
[ -f "$dir/digits-50k-y.npy" ] || python3 scripts/make-bench-train.py "$dir"
scratch="$dir/tmp"   # not bench-data/out.*: bench-lib's measure() deletes those
mkdir -p "$scratch"

# run_kv NAME CMD... : runs CMD $runs times; prints "NAME wall=MEDIAN cpu=MEDIAN key=MEDIAN..."
# with the keys from the command's `key value` stdout lines, plus loop_s = the sum of the
# per-epoch times aicompress train prints on stderr ("epoch 1/2 ... 0.57s").
run_kv() {
    local name="$1"; shift
    local all="$scratch/kv.all"
    : > "$all"
    for _ in $(seq "$runs"); do
        /usr/bin/time -o "$scratch/time.txt" -f "%e %U %S" "$@" > "$scratch/stdout" 2> "$scratch/stderr" || {
            echo "failed: $*" >&2; cat "$scratch/stderr" >&2; exit 1; }
        read -r wall user sys < <(tail -n 1 "$scratch/time.txt")
        {
            echo "wall $wall"
            awk -v u="$user" -v s="$sys" 'BEGIN { printf "cpu %.2f\n", u + s }'
            grep -E '^[a-z_0-9]+ [-0-9.e+naif]+$' "$scratch/stdout" || true
            awk '/^epoch [0-9]+\/[0-9]+ / { t = $NF; sub(/s$/, "", t); sum += t; n++ }
                 END { if (n) printf "loop_s %.3f\n", sum }' "$scratch/stderr"
            awk '/^trained / { print "loss", $NF }' "$scratch/stderr"
        } >> "$all"
    done
    python3 - "$name" "$all" <<'PY'
import statistics, sys
vals = {}
for line in open(sys.argv[2]):
    k, v = line.split()
    vals.setdefault(k, []).append(float(v))
print(sys.argv[1].replace(" ", "_"), " ".join(f"{k}={statistics.median(v):.4g}" for k, v in vals.items()))
PY
}
get() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

rows_file="$scratch/rows"
: > "$rows_file"
# row WORKLOAD TOOL SECONDS SAMPLES CPU BASELINE_SECONDS
row() { printf '%s|%s|%s|%s|%s|%s\n' "$@" >> "$rows_file"; }
notes=()

have_torch=0
torch_ver=""
if torch_ver=$(python3 -c 'import torch; print(torch.__version__)' 2>/dev/null); then have_torch=1; fi
ort_ver=$(python3 -c 'import onnxruntime; print(onnxruntime.__version__)')
np_ver=$(python3 -c 'import numpy; print(numpy.__version__)')

# ---------------------------------------------------------------- training
epochs=2; batch=64; trows=$(($(wc -l < "$dir/train.csv") - 1))
samples=$((epochs * trows))
cat "$dir/train.csv" > /dev/null   # page cache
for opt in sgd adam; do
    if [ "$opt" = sgd ]; then lr=0.01; else lr=0.001; fi
    w="train MLP 784-256-128-10, $trows rows x $epochs epochs, batch $batch, ${opt^^} lr $lr"
    np=$(run_kv numpy python3 "$ref" numpy-train "$dir/mlp.onnx" "$dir/train.csv" --epochs $epochs --batch-size $batch --optimizer $opt --lr $lr)
    ours=$(run_kv ours "$bin" train "$dir/mlp.onnx" --data "$dir/train.csv" "$scratch/trained.onnx" --epochs $epochs --batch-size $batch --optimizer $opt --lr $lr)
    base=$(get "$np" loop_s)
    row "$w" "numpy $np_ver, epoch loop only (in-process) — baseline" "$base" $samples "" "$base"
    row "$w" "aicompress train, epoch loop only (its per-epoch times on stderr)" "$(get "$ours" loop_s)" $samples "" "$base"
    if [ $have_torch = 1 ]; then
        pt=$(run_kv torch python3 "$ref" torch-train "$dir/mlp.onnx" "$dir/train.csv" --epochs $epochs --batch-size $batch --optimizer $opt --lr $lr --threads "$THREADS")
        row "$w" "PyTorch $torch_ver, epoch loop only (in-process)" "$(get "$pt" loop_s)" $samples "" "$base"
    fi
    row "$w" "aicompress train, whole command (process, CSV parse, train, write .onnx)" "$(get "$ours" wall)" $samples "$(get "$ours" cpu)" "$base"
    row "$w" "numpy, whole script (python start, np.loadtxt CSV, train)" "$(get "$np" wall)" $samples "$(get "$np" cpu)" "$base"
    [ $have_torch = 1 ] && row "$w" "PyTorch, whole script (python start, import torch, np.loadtxt CSV, train)" "$(get "$pt" wall)" $samples "$(get "$pt" cpu)" "$base"
    note="$w: final-epoch mean loss numpy $(get "$np" loss), aicompress $(get "$ours" loss)"
    [ $have_torch = 1 ] && note+=", PyTorch $(get "$pt" loss)"
    notes+=("$note (same initial weights; numpy and PyTorch share one shuffle, aicompress uses its own); numpy CSV load $(get "$np" load_s) s")
done

# ---------------------------------------------------------------- inference
"$bin" convert fixtures/demo/mlp-digits.ckpt "$scratch/mlp-digits.onnx" >/dev/null   # for onnxruntime
{ head -n 9 "$dir/digits-50k.csv"; } > "$scratch/tiny-digits.csv"
eval_set() {   # WORKLOAD OUR_MODEL ORT_MODEL CSV NPY TINY_CSV
    local w="$1" model="$2" ortmodel="$3" csv="$4" npy="$5" tiny="$6"
    local n; n=$(($(wc -l < "$csv") - 1))
    cat "$csv" "$npy" > /dev/null
    local o e p t
    o=$(run_kv ort python3 "$ref" ort-eval "$ortmodel" "$csv" --batch-size 256 --threads "$THREADS")
    e=$(run_kv eval "$bin" evaluate "$model" --data "$csv" --json)
    cp "$scratch/stdout" "$scratch/eval.json"
    p=$(run_kv predict "$bin" predict "$model" --data "$npy" -f "$scratch/pred.csv")
    t=$(run_kv tiny "$bin" evaluate "$model" --data "$tiny")
    local base; base=$(get "$o" run_s)
    row "$w" "onnxruntime $ort_ver, InferenceSession.run only (batches of 256) — baseline" "$base" "$n" "" "$base"
    row "$w" "aicompress evaluate, whole command (process, model load, CSV parse, run, metrics)" "$(get "$e" wall)" "$n" "$(get "$e" cpu)" "$base"
    row "$w" "onnxruntime, whole script (python start, import, np.loadtxt CSV, session, run)" "$(get "$o" wall)" "$n" "$(get "$o" cpu)" "$base"
    row "$w" "  of which np.loadtxt of the CSV (inside the onnxruntime script)" "$(get "$o" load_s)" "$n" "" ""
    row "$w" "aicompress predict on the same rows as .npy (no CSV parse; writes a CSV of outputs)" "$(get "$p" wall)" "$n" "$(get "$p" cpu)" "$base"
    row "$w" "aicompress evaluate on an 8-row CSV (fixed cost: process start, model load)" "$(get "$t" wall)" "" "$(get "$t" cpu)" ""
    local acc   # from the last timed `evaluate --json` run, saved by run_kv's caller below
    acc=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["metrics"]["accuracy"], 4))' "$scratch/eval.json")
    notes+=("$w: accuracy aicompress $acc, onnxruntime $(get "$o" acc)")
}
eval_set "evaluate mlp-digits.ckpt (64-32-10), digits x111 = 50,000 rows" fixtures/demo/mlp-digits.ckpt \
    "$scratch/mlp-digits.onnx" "$dir/digits-50k.csv" "$dir/digits-50k-x.npy" "$scratch/tiny-digits.csv"
eval_set "evaluate cnn-digits.onnx (Conv 8x3x3, MaxPool, Gemm), 50,000 rows" fixtures/demo/cnn-digits.onnx \
    fixtures/demo/cnn-digits.onnx "$dir/digits-50k.csv" "$dir/digits-50k-x.npy" "$scratch/tiny-digits.csv"
eval_set "evaluate MLP 784-256-128-10 (untrained), 10,000 rows" "$dir/mlp.onnx" \
    "$dir/mlp.onnx" "$dir/train.csv" "$dir/train-x.npy" "$dir/tiny.csv"

# ---------------------------------------------------------------- table
echo "$runs runs each, median wall time; $cores cores; threads $THREADS (OMP/OPENBLAS/MKL_NUM_THREADS," \
     "onnxruntime intra_op, torch.set_num_threads); binary $bin"
[ $have_torch = 1 ] || echo "PyTorch not installed: no PyTorch rows"
echo "ratio = baseline seconds / seconds on the same rows (= throughput relative to the baseline; < 1 is slower)"
echo
echo "| workload | tool | seconds | samples/s | CPU s | ratio vs baseline |"
echo "|---|---|---|---|---|---|"
awk -F'|' '{
    sps = ($4 != "" && $3 > 0) ? sprintf("%.0f", $4 / $3) : "—";
    cpu = ($5 != "") ? sprintf("%.2f", $5) : "—";
    rel = ($6 != "" && $3 > 0) ? sprintf("%.3gx", $6 / $3) : "—";
    printf "| %s | %s | %.3f | %s | %s | %s |\n", $1, $2, $3, sps, cpu, rel }' "$rows_file"
echo
for n in "${notes[@]}"; do echo "- $n"; done
rm -rf "$scratch"
