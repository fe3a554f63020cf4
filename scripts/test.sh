#!/usr/bin/env bash
# The whole test suite (what CI runs): the XCTest suites, then the interop lane. XCTest only:
# Swift Testing is disabled so the run's closing line counts the tests that really ran.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
AICOMPRESS_SLOW=1 swift test --skip-build --disable-swift-testing
# A model larger than the memory it is given (a memory cgroup; skipped where none can be made).
scripts/test-memory-limit.sh .build/debug/aicompress
# Interop lane: files we write are read back by the reference tools (pip installs onnx,
# onnxruntime, numpy).
scripts/interop.sh .build/debug/aicompress
# Release lane: the self-contained archive (a static release build, ~5 CPU-minutes) is packed twice,
# unpacked and run with an empty environment. AICOMPRESS_SKIP_PACKAGE=1 skips it.
[ "${AICOMPRESS_SKIP_PACKAGE:-}" = 1 ] || scripts/test-package.sh
