#!/usr/bin/env bash
# A model larger than the memory it is given: runs quantize, prune --scope global, convert and
# dequantize to .ckpt, .safetensors and .onnx inside a memory cgroup limited to less than half
# of the model's size, and checks that each output is byte-identical to an unconstrained run.
# Usage: scripts/test-memory-limit.sh [AICOMPRESS]   (default .build/debug/aicompress)
#   MODEL_MIB (default 128) and LIMIT_MIB (default 60) change the sizes.
# The cgroup is, in order: `systemd-run --scope -p MemoryMax=` when systemd runs, a child of
# this process's cgroup v2 (memory.max) or v1 memory cgroup (memory.limit_in_bytes, and
# memory.memsw.limit_in_bytes when swap accounting is on). Where none can be made the test is
# skipped with a message saying why (exit 0). Exit 1 when an output differs or a run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-.build/debug/aicompress}")"
model_mib="${MODEL_MIB:-128}"
limit_mib="${LIMIT_MIB:-60}"
limit=$((limit_mib << 20))
work="$(mktemp -d "${TMPDIR:-/tmp}/aicompress-memlimit-XXXXXX")"
cgroup=""
cleanup() {
    [ -n "$cgroup" ] && rmdir "$cgroup" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# run_limited CMD...: CMD inside the limit. Sets $peak to the cgroup's peak usage (bytes) when
# the cgroup reports one.
mode=""
make_cgroup() {
    if command -v systemd-run >/dev/null && systemd-run --quiet --scope -p MemoryMax="$limit" true 2>/dev/null; then
        mode=systemd
        return 0
    fi
    local v2line v1line
    v2line="$(grep '^0::' /proc/self/cgroup || true)"
    if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
        local parent="/sys/fs/cgroup${v2line#0::}"
        local dir="$parent/aicompress-memlimit-$$"
        if grep -qw memory "$parent/cgroup.subtree_control" 2>/dev/null && mkdir "$dir" 2>/dev/null; then
            if echo "$limit" > "$dir/memory.max" 2>/dev/null; then
                echo 0 > "$dir/memory.swap.max" 2>/dev/null || true
                cgroup="$dir"; mode=v2; return 0
            fi
            rmdir "$dir"
        fi
    fi
    v1line="$(grep -E '^[0-9]+:([^:]*,)?memory(,[^:]*)?:' /proc/self/cgroup || true)"
    local root
    root="$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ {print $2; exit}' /proc/mounts)"
    if [ -n "$v1line" ] && [ -n "$root" ]; then
        local dir="$root${v1line##*:}/aicompress-memlimit-$$"
        if mkdir "$dir" 2>/dev/null; then
            if echo "$limit" > "$dir/memory.limit_in_bytes" 2>/dev/null; then
                [ -f "$dir/memory.memsw.limit_in_bytes" ] && echo "$limit" > "$dir/memory.memsw.limit_in_bytes" 2>/dev/null || true
                cgroup="$dir"; mode=v1; return 0
            fi
            rmdir "$dir"
        fi
    fi
    return 1
}

peak=""
run_limited() {
    case "$mode" in
        systemd) systemd-run --quiet --scope -p MemoryMax="$limit" -p MemorySwapMax=0 "$@" ;;
        v1|v2)
            [ "$mode" = v1 ] && echo 0 > "$cgroup/memory.max_usage_in_bytes" 2>/dev/null || true
            sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cgroup" "$@"
            ;;
    esac
    local rc=$?
    case "$mode" in
        v1) peak="$(cat "$cgroup/memory.max_usage_in_bytes")" ;;
        v2) peak="$(cat "$cgroup/memory.peak" 2>/dev/null || true)" ;;
    esac
    return $rc
}

if ! make_cgroup; then
    echo "test-memory-limit: SKIPPED: no memory cgroup can be made here (no systemd scope, and neither a v2 memory.max nor a v1 memory.limit_in_bytes child of $(cat /proc/self/cgroup | tr '\n' ' ') is writable)"
    exit 0
fi
echo "test-memory-limit: cgroup ($mode) of $limit_mib MiB for a $model_mib MiB model"

python3 scripts/make-bench-model.py "$work/model.ckpt" "$model_mib" >/dev/null
"$bin" quantize -q --int8 "$work/model.ckpt" "$work/int8.ckpt"
model_bytes=$(stat -c %s "$work/model.ckpt")
[ "$limit" -lt $((model_bytes / 2)) ] || { echo "test-memory-limit: the limit must be under half the model" >&2; exit 1; }

failures=0
checks=0
for ext in ckpt safetensors onnx; do
    for job in "quantize -q --int8 model.ckpt" "prune -q --keep 0.3 --scope global model.ckpt" \
               "convert -q model.ckpt" "dequantize -q int8.ckpt"; do
        read -r -a words <<<"$job"
        input="$work/${words[-1]}"
        args=("${words[@]:0:${#words[@]}-1}")
        "$bin" "${args[@]}" "$input" "$work/free.$ext"
        rc=0
        run_limited "$bin" "${args[@]}" "$input" "$work/limited.$ext" || rc=$?
        checks=$((checks + 1))
        shown="${peak:+, cgroup peak $((peak >> 20)) MiB}"
        if [ "$rc" -ne 0 ]; then
            echo "FAIL ${args[*]} -> .$ext: exit $rc under the limit$shown"
            failures=$((failures + 1))
        elif ! cmp -s "$work/free.$ext" "$work/limited.$ext"; then
            echo "FAIL ${args[*]} -> .$ext: output differs from the unconstrained run"
            failures=$((failures + 1))
        else
            echo "ok   ${args[*]} -> .$ext: identical$shown"
        fi
        rm -f "$work/free.$ext" "$work/limited.$ext"
    done
done
echo "test-memory-limit: $((checks - failures)) of $checks identical under $limit_mib MiB, $failures failed"
[ "$failures" -eq 0 ]
