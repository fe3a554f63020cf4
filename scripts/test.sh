#!/usr/bin/env bash
# The whole test suite (what CI runs): the XCTest suites, the release archive, the memory-cgroup
# test, then the interop lanes. XCTest only: Swift Testing is disabled so the run's closing line
# counts the tests that really ran. Each stage prints how long it took.
#   AICOMPRESS_SKIP_PACKAGE=1  skips the release archive (the later stages then use the debug build)
#   AICOMPRESS_SKIP_LLAMA=1    skips the lanes judged by llama.cpp (and its build)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stage() { echo "== $1: $(( $(date +%s) - start )) s since the start"; }
scripts/install-deps.sh
# llama.cpp's tools (the judges of the GGUF lanes) build at low priority on the core the tests
# leave idle; the lanes wait for that build. (A build already cached, or started by .ci/run, is reused.)
if [ "${AICOMPRESS_SKIP_LLAMA:-}" != 1 ]; then
    scripts/llama-cpp.sh --background "${TMPDIR:-/tmp}/aicompress-llama-cpp-build.log" > /dev/null
fi
swift build --build-tests
stage "debug build"
AICOMPRESS_SLOW=1 swift test --skip-build --disable-swift-testing
stage "XCTest"
# Release lane: the self-contained archive (a static release build, ~5 CPU-minutes) is packed twice,
# unpacked and run with an empty environment. Its binary (what users get, and several times faster
# than the debug build) then runs the memory-cgroup test and the interop lanes.
bin=.build/debug/aicompress
if [ "${AICOMPRESS_SKIP_PACKAGE:-}" != 1 ]; then
    scripts/test-package.sh
    bin=.build-dist/release/aicompress
    stage "release archive"
fi
# A model larger than the memory it is given (a memory cgroup; skipped where none can be made).
scripts/test-memory-limit.sh "$bin"
stage "memory limit"
# Interop lanes: files we write are read back by the reference tools (pip installs onnx,
# onnxruntime, numpy, gguf; llama.cpp judges GGUF files and perplexity).
# Its last line is the combined count of the lanes.
scripts/interop.sh "$bin"
