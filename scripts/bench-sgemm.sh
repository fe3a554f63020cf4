#!/usr/bin/env bash
# Single-thread speed of our sgemm (Sources/CKernels/sgemm.c, at -O2 as in release builds) against
# OpenBLAS's on the shapes the language-model commands multiply (BENCHMARKS.md, "Own sgemm").
# Needs libopenblas-dev, which aicompress itself does not use: apt-get install libopenblas-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg-config --exists openblas || { echo "bench-sgemm: needs libopenblas-dev (pkg-config openblas)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clang -O2 -ISources/CKernels/include $(pkg-config --cflags openblas) Sources/CKernels/sgemm.c scripts/bench/sgemm-bench.c \
    -o "$out/sgemm-bench" $(pkg-config --libs openblas) -lm -lpthread
# context x 2048 projections (TinyLlama), ffn_up's 5632, a calibration batch, XᵀX-like and a small model's
for shape in "128 2048 2048 1" "128 5632 2048 1" "512 2048 2048 1" "4096 256 256 1" "2048 2048 512 0"; do
    OPENBLAS_NUM_THREADS=1 "$out/sgemm-bench" $shape | tail -n 1
done
