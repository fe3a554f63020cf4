#!/usr/bin/env bash
# ONNX interop check (CI): converts every fixture in fixtures/onnx/ with aicompress (through
# .ckpt, ONNX -> ONNX, with external data) and checks the results with the reference onnx
# package and onnxruntime. Usage: scripts/interop.sh [BIN]   (default .build/debug/aicompress)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.build/debug/aicompress}"
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check onnx onnxruntime numpy
python3 scripts/interop/onnx_roundtrip.py "$bin"
