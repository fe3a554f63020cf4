#!/usr/bin/env bash
# Benchmark (not a test): importing ONNX — a ~1 GiB model with external data and a ~100 MiB
# model without — against `cp` of the same bytes and Python's onnx.load in the same run.
# Usage: scripts/bench-onnx.sh   (RUNS=5 by default; data in bench-data/, git-ignored)
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
bench_release
bench_model bench-data/ext-1024m.onnx 1024 --external
bench_model bench-data/inline-100m.onnx 100

for model in bench-data/ext-1024m.onnx bench-data/inline-100m.onnx; do
    files=("$model")
    [ -f "$model.data" ] && files+=("$model.data")
    bytes=$(cat "${files[@]}" | wc -c)
    cat "${files[@]}" > /dev/null   # warm the page cache
    results=(
        "$(measure cp sh -c "mkdir -p bench-data/out.cp && cp ${files[*]} bench-data/out.cp/")"
        "$(measure "onnx.load (Python)" python3 -c "import onnx; onnx.load('$model')")"
        "$(measure "aicompress verify (parse, map)" "$bin" verify "$model")"
        "$(measure "aicompress inspect (reads every value)" "$bin" inspect "$model")"
        "$(measure "aicompress convert to .ckpt" "$bin" convert "$model" bench-data/out.ckpt)"
    )
    cp_time=$(echo "${results[0]}" | awk '{print $2}')
    echo "model: $model (${files[*]}), $bytes bytes; $runs runs each, median wall time; $(nproc) cores"
    echo
    table "$bytes" "$cp_time" "${results[@]}"
    echo
done
