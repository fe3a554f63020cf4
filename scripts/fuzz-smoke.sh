#!/usr/bin/env bash
# A short libFuzzer run of every reader (CI): SECONDS each (default 15). Fails on any finding.
# The fuzz build is made once, then the targets run FUZZ_JOBS at a time (default 2: each run is
# single-threaded, so two use both cores of a 2-core machine; every target still gets its own
# SECONDS of libFuzzer time and its own corpus folder). Each target's result is printed in order.
# Usage: scripts/fuzz-smoke.sh [--build-only | --built] [SECONDS]
#   --build-only  only the fuzz build (.ci/run makes it beside the debug build)
#   --built       the fuzz build is already made: only the runs
set -euo pipefail
cd "$(dirname "$0")/.."
mode=""
case "${1:-}" in --build-only|--built) mode=$1; shift ;; esac
seconds="${1:-15}"
jobs="${FUZZ_JOBS:-2}"
targets=(ckpt ckpt-crc onnx safetensors json csv npy exec gguf prune-stats)
start=$(date +%s)
if [ "$mode" != --built ]; then
    swift build --package-path fuzz -c debug -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library >/dev/null
    echo "== fuzz build: $(( $(date +%s) - start )) s"
    [ "$mode" = --build-only ] && exit 0
fi
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
run() {  # $1 = target: its log and exit status in $logs
    local rc=0
    AICOMPRESS_FUZZ_BUILT=1 scripts/fuzz.sh "$1" "$seconds" > "$logs/$1.log" 2>&1 || rc=$?
    echo "$rc" > "$logs/$1.rc"
}
running=0
for target in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
    run "$target" &
    running=$((running + 1))
done
wait
status=0
for target in "${targets[@]}"; do
    if [ "$(cat "$logs/$target.rc" 2>/dev/null)" = 0 ]; then
        echo "fuzz $target: $(grep -E '^Done' "$logs/$target.log" | tail -n 1), no finding"
    else
        echo "fuzz $target: FAILED"
        tail -n 40 "$logs/$target.log"
        status=1
    fi
done
echo "== fuzz: $(( $(date +%s) - start )) s (${#targets[@]} targets x $seconds s, $jobs at a time)"
exit "$status"
