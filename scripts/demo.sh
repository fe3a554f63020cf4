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
echo "== accuracy on the held-out digits: the model, then pruned to 20%, then fine-tuned"
"$bin" evaluate "$demo" --data fixtures/demo/digits-test.csv | sed -n '3,4p'
"$bin" prune --keep 0.2 --scope global -q "$demo" "$out/p20.ckpt"
"$bin" evaluate "$out/p20.ckpt" --data fixtures/demo/digits-test.csv --compare "$demo" | sed -n '3p;/compared/,$p'
"$bin" train "$out/p20.ckpt" --data fixtures/demo/digits-train.csv --epochs 30 --lr 0.003 -q "$out/tuned.ckpt"
"$bin" evaluate "$out/tuned.ckpt" --data fixtures/demo/digits-test.csv | sed -n '3p'
"$bin" inspect "$out/tuned.ckpt" | grep '^total'
echo
echo "== distillation: a 6.5k-parameter student learns from a 51k-parameter teacher"
"$bin" distill --teacher fixtures/demo/teacher-digits.ckpt --data fixtures/demo/digits-train.csv \
    --hidden 64,32 --epochs 40 --lr 0.003 --val-split 0.1 --verbose "$out/student.ckpt" 2>&1 | tail -n 2
"$bin" evaluate "$out/student.ckpt" --data fixtures/demo/digits-test.csv --compare fixtures/demo/teacher-digits.ckpt \
    | sed -n '3p;/compared/,$p'
echo
echo "== a recipe (YAML) applied, the recipe the output records, and an HTML report"
cat > "$out/recipe.yaml" <<'YAML'
steps:
  - prune: {keep: 0.5, scope: global}
  - quantize: {int8: true, exclude: ["fc2.*"]}
YAML
"$bin" apply -q "$out/recipe.yaml" "$demo" "$out/recipe.ckpt"
"$bin" recipe "$out/recipe.ckpt"
"$bin" report "$out/recipe.ckpt" --compare "$demo" -o "$out/report.html"
echo "report: $(wc -c < "$out/report.html") bytes of self-contained HTML (keep it with: aicompress report … -o report.html)"
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
