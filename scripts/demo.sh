#!/usr/bin/env bash
# One command for a newcomer: install system packages, build a release binary, and run it on
# the bundled demo model (an MLP trained on scikit-learn's digits, fixtures/demo/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release
bin=".build/release/aicompress"
demo="fixtures/demo/mlp-digits.ckpt"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "== aicompress inspect $demo"
"$bin" inspect "$demo"
echo
echo "== aicompress convert $demo copy.ckpt   (atomic, deterministic, provenance recorded)"
"$bin" convert "$demo" "$out/copy.ckpt"
"$bin" inspect "$out/copy.ckpt" | sed -n '/^provenance:/,/^$/p'
echo "== to ONNX and back: the graph and every weight survive bit for bit"
"$bin" convert "$demo" "$out/mlp.onnx"
"$bin" inspect "$out/mlp.onnx" | tail -n 4
"$bin" convert "$out/mlp.onnx" "$out/back.ckpt"
"$bin" convert "$demo" "$out/mlp.safetensors"
"$bin" verify "$out/back.ckpt" "$out/mlp.safetensors"
echo
echo "== compress: prune to 50% and quantize to int8 in one pipeline; zeros stay zero"
"$bin" prune --keep 0.5 "$demo" - | "$bin" quantize --int8 - "$out/small.ckpt"
"$bin" inspect "$out/small.ckpt" | sed -n '1,8p'
echo
echo "== the scheme table"
"$bin" quantize --list
echo
echo "== a shell pipeline: convert to stdout, inspect from stdin (--json)"
"$bin" convert "$demo" - | "$bin" inspect --json - | head -n 12
echo
echo "== a corrupted file is refused with one line and exit code 65"
set +e
"$bin" inspect fixtures/malformed/crc-mismatch.ckpt
echo "exit code: $?"
set -e
echo
echo "The binary is $bin; copy it anywhere on your PATH."
