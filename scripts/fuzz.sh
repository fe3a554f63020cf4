#!/usr/bin/env bash
# Fuzzes one reader with libFuzzer. Usage: scripts/fuzz.sh TARGET [SECONDS] [extra libFuzzer flags]
# TARGET: ckpt, ckpt-crc, onnx, safetensors, json, csv, npy, exec, gguf, prune-stats (see fuzz/Sources/FuzzReaders). Seeds come
# from fixtures/; the grown corpus goes to fuzz/corpus/TARGET (git-ignored) and findings to
# fuzz/findings/TARGET (crash-*, timeout-*, oom-*). Limits: 5 s per input, 2 GiB RSS, 1 GiB per
# allocation — a 100-byte input must never come near them.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?target: ckpt ckpt-crc onnx safetensors json csv npy exec gguf prune-stats}"
seconds="${2:-600}"
shift $(( $# >= 2 ? 2 : 1 ))
# AICOMPRESS_FUZZ_BUILT=1: the caller has just built it (scripts/fuzz-smoke.sh runs targets side by side).
[ "${AICOMPRESS_FUZZ_BUILT:-}" = 1 ] || swift build --package-path fuzz -c debug -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library >/dev/null
bin="fuzz/.build/debug/FuzzReaders"
corpus="fuzz/corpus/$target"
findings="fuzz/findings/$target"
mkdir -p "$corpus" "$findings"
case "$target" in
    ckpt|ckpt-crc) seeds=(fixtures/valid fixtures/malformed fixtures/demo/mlp-digits.ckpt) ;;
    onnx) seeds=(fixtures/onnx fixtures/onnx/malformed fixtures/demo/cnn-digits.onnx) ;;
    safetensors) seeds=(fixtures/safetensors fixtures/safetensors/malformed fixtures/safetensors/edge) ;;
    json) seeds=(fixtures/safetensors/sharded/model.safetensors.index.json fixtures/valid/all-dtypes.json) ;;
    csv) seeds=(fixtures/training fixtures/onnx/ops/add.csv fixtures/onnx/ops/conv.csv) ;;
    npy) seeds=(fixtures/training) ;;
    gguf) seeds=(fixtures/gguf/valid fixtures/gguf/split) ;;
    prune-stats) seeds=(fixtures/prune-stats/valid fixtures/prune-stats/malformed) ;;
    exec) seeds=(fixtures/onnx fixtures/onnx/ops fixtures/demo/cnn-digits.onnx) ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
esac
seeds+=(fixtures/fuzz-regressions)
for s in "${seeds[@]}"; do
    if [ -d "$s" ]; then find "$s" -maxdepth 1 -type f -size -1048576c -exec cp {} "$corpus/" \; ; else cp "$s" "$corpus/"; fi
done
SWIFT_BACKTRACE=enable=no AICOMPRESS_FUZZ_TARGET="$target" "$bin" "$corpus" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -artifact_prefix="$findings/" -print_final_stats=1 "$@"
