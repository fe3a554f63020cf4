#!/usr/bin/env bash
# Installs the system packages aicompress builds against (Debian/Ubuntu). Swift itself must
# already be installed (https://www.swift.org/install/).
set -euo pipefail
# groff-base: the release lane renders the man page (scripts/test-package.sh).
# time: /usr/bin/time -v measures peak RSS (scripts/bench-*.sh, scripts/test-memory-limit.sh).
# parallel: GNU parallel fans --shard K/N runs out (ShardRunCLITests, README "Many machines").
# strace: the release lane checks that the static binary opens no shared library (test-package.sh).
packages=(zlib1g-dev libprotobuf-c-dev pkg-config groff-base time parallel strace)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6 first" >&2; exit 1; }
