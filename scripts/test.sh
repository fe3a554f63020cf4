#!/usr/bin/env bash
# The whole test suite (what CI runs): the XCTest suites, the release archive, the memory-cgroup
# test, then the interop lanes. XCTest only: Swift Testing is disabled so the run's closing line
# counts the tests that really ran. Each stage prints how long it took.
#   AICOMPRESS_SKIP_PACKAGE=1  skips the release archive (the later stages then use the debug build)
#   AICOMPRESS_SKIP_LLAMA=1    skips the lanes judged by llama.cpp (and its build)
set -euo pipefail
cd "$(dirname "$0")/.."
start=${AICOMPRESS_CI_START:-$(date +%s)}  # .ci/run: its own start
stage() { echo "== $1: $(( $(date +%s) - start )) s since the start"; }
scripts/install-deps.sh
# llama.cpp's tools (the judges of the GGUF lanes) build at low priority on the core the tests
# leave idle; the lanes wait for that build. (A build already cached, or started by .ci/run, is reused.)
if [ "${AICOMPRESS_SKIP_LLAMA:-}" != 1 ]; then
    scripts/llama-cpp.sh --background "${TMPDIR:-/tmp}/aicompress-llama-cpp-build.log" > /dev/null
fi
swift build --build-tests
stage "debug build"
# The XCTest run is mostly one thread, so the release archive, the memory-cgroup test and the
# interop lanes run beside it, on the other core, their output kept in a log that is printed
# after the XCTest run (the lanes' combined count stays the last line). A lane that runs
# `swift test` itself (gguf_check) waits for SwiftPM's lock, that is for the XCTest run.
# Release lane: the self-contained archive (a static release build, ~5 CPU-minutes) is packed twice,
# unpacked and run with an empty environment. Its binary (what users get, and several times faster
# than the debug build) then runs the memory-cgroup test and the interop lanes.
bin=.build/debug/aicompress
if [ "${AICOMPRESS_SKIP_PACKAGE:-}" != 1 ]; then bin=.build-dist/release/aicompress; fi
rest_log=$(mktemp)
trap 'rm -f "$rest_log"' EXIT
(
    if [ "${AICOMPRESS_SKIP_PACKAGE:-}" != 1 ]; then
        scripts/test-package.sh
        stage "release archive"
    fi
    # A model larger than the memory it is given (a memory cgroup; skipped where none can be made).
    scripts/test-memory-limit.sh "$bin"
    stage "memory limit"
    # Interop lanes: files we write are read back by the reference tools (pip installs onnx,
    # onnxruntime, numpy, gguf; llama.cpp judges GGUF files and perplexity).
    # Its last line is the combined count of the lanes.
    scripts/interop.sh "$bin"
) > "$rest_log" 2>&1 < /dev/null &
rest=$!
xctest=0
AICOMPRESS_SLOW=1 swift test --skip-build --disable-swift-testing || xctest=$?
stage "XCTest (exit $xctest)"
status=0
wait "$rest" || status=$?
stage "all (the XCTest run, and beside it the rest, whose output follows)"
cat "$rest_log"
[ "$xctest" -eq 0 ] || { echo "test.sh: the XCTest run failed (exit $xctest; its output is above the release archive's)"; exit "$xctest"; }
exit "$status"
