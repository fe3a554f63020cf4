#!/usr/bin/env bash
# A short libFuzzer run of every reader (CI): SECONDS each (default 15). Fails on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
status=0
for target in ckpt ckpt-crc onnx safetensors json csv npy exec gguf prune-stats; do
    log=$(mktemp)
    if scripts/fuzz.sh "$target" "$seconds" > "$log" 2>&1; then
        echo "fuzz $target: $(grep -E '^Done' "$log" | tail -n 1), no finding"
    else
        echo "fuzz $target: FAILED"
        tail -n 40 "$log"
        status=1
    fi
    rm -f "$log"
done
exit "$status"
