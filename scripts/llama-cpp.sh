#!/usr/bin/env bash
# Builds llama.cpp's own tools (the judge of scripts/interop/llama_cpp.py) from the llama.cpp
# sources that ship inside the PyPI sdist of llama-cpp-python, in a cache folder outside the clone.
# Usage: scripts/llama-cpp.sh        prints the folder holding the binaries as its last stdout line
#        scripts/llama-cpp.sh --background LOG
#                                    installs what the build needs, then builds in the background at
#                                    low priority (nice 10), output to LOG, and returns at once: CI
#                                    starts it early so the build uses the core that the
#                                    single-threaded fuzz runs and tests leave idle. A later plain call
#                                    waits for it (a lock in the cache folder) and reuses its build.
#
#   cache  ${AICOMPRESS_CACHE:-$HOME/.cache/aicompress}/llama.cpp-VERSION/
#            src/      the extracted sdist (vendor/llama.cpp is the llama.cpp tree)
#            build/    the cmake build; build/bin holds the binaries
#            build.log the configure and build output
#   builds llama-quantize, llama-perplexity, llama-imatrix, llama-tokenize, llama-gguf-split (about
#   6 minutes on 2 cores); a build whose binaries are all present is reused as it is, and a cached
#   build that lacks some (made before a target was added here) builds only those: cmake reuses
#   the libraries already built, so adding a tool costs its own file and a link, not a rebuild. Installs Debian's
#   cmake, g++ and make with apt when missing.
#
# Why these flags: GGML_NATIVE=OFF so the build does not depend on the CPU it was made on. The
# reference quantizers llama-quantize calls (quantize_row_*_ref through ggml_quantize_chunk,
# ggml/src/ggml-quants.c) are in ggml-base, which is compiled without any -m ISA flag, so their
# bits are the same on every x86-64 machine; the ISA flags (AVX2, FMA, F16C by default with
# GGML_NATIVE=OFF) go only to ggml-cpu, which computes the perplexity. Static libraries keep the
# binaries self-contained in build/bin. The sdist is fetched with --no-binary for llama-cpp-python
# alone: `--no-binary :all:` would also build its build dependencies (cmake itself) from source.
set -euo pipefail
version=0.3.36
root="${AICOMPRESS_CACHE:-$HOME/.cache/aicompress}/llama.cpp-$version"
src="$root/src/llama_cpp_python-$version/vendor/llama.cpp"
build="$root/build"
targets=(llama-quantize llama-perplexity llama-imatrix llama-tokenize llama-gguf-split)

built() {
    local t
    for t in "${targets[@]}"; do [ -x "$build/bin/$t" ] || return 1; done
    [ -f "$build/.log-drained" ]
}

# llama.cpp's logger writes from a thread that is never joined: common_log_main() leaks it on
# purpose (common/log.cpp), so on a busy machine llama-perplexity exits before its closing lines
# (the final estimate, the KL divergence) are written. One added line drains the log at exit
# (std::atexit → pause(), which joins the thread after it has written everything queued). Nothing
# that llama.cpp computes changes; the lanes stop losing its results.
drain_log_at_exit() {
    local f="$src/common/log.cpp"
    grep -q "aicompress: drain the log at exit" "$f" && return 0
    python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
anchor = "        log->set_colors(tty_can_use_colors());\n    });\n\n    return log;"
if s.count(anchor) != 1:
    sys.exit(f"llama.cpp: {p}: the logger's set-up is not where it was in 0.3.36; cannot add the drain")
s = s.replace(anchor, anchor.replace("    });", "        std::atexit([]() { log->pause(); }); // aicompress: drain the log at exit\n    });"))
open(p, "w").write(s)
PY
}

if built; then
    echo "llama.cpp $version: reusing the build in $build" >&2
    echo "$build/bin"
    exit 0
fi

# cmake, g++ and make from apt when missing (before any background build: one apt at a time).
install_tools() {
    missing=()
    command -v cmake >/dev/null || missing+=(cmake)
    command -v g++ >/dev/null || missing+=(g++)
    command -v make >/dev/null || missing+=(make)
    if [ ${#missing[@]} -gt 0 ]; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        echo "llama.cpp: installing ${missing[*]} (apt)" >&2
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
    fi
}
install_tools

mkdir -p "$root"
if [ "${1:-}" = "--background" ]; then
    log="${2:?--background LOG}"
    nice -n 10 "$0" > "$log" 2>&1 < /dev/null &
    echo "llama.cpp $version: building in the background (pid $!, log $log)" >&2
    exit 0
fi
# One build at a time: a second call waits here for the first one, then finds its binaries.
exec 9> "$root/.lock"
flock 9
if built; then
    echo "llama.cpp $version: reusing the build in $build (made while this call waited)" >&2
    echo "$build/bin"
    exit 0
fi
if [ ! -f "$src/CMakeLists.txt" ]; then
    # Download and extract into temporary folders, then rename: an interrupted run leaves no
    # half-extracted tree that a later run would take for the real one.
    tmp=$(mktemp -d "$root/fetch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "llama.cpp $version: downloading the llama-cpp-python sdist (PyPI)" >&2
    PIP_ROOT_USER_ACTION=ignore python3 -m pip download -q --disable-pip-version-check --no-deps \
        --no-binary llama-cpp-python "llama-cpp-python==$version" -d "$tmp/dl" >&2
    mkdir "$tmp/src"
    tar xzf "$tmp/dl/llama_cpp_python-$version.tar.gz" -C "$tmp/src"
    [ -f "$tmp/src/llama_cpp_python-$version/vendor/llama.cpp/CMakeLists.txt" ] ||
        { echo "llama.cpp: the sdist has no vendor/llama.cpp/CMakeLists.txt" >&2; exit 1; }
    rm -rf "$root/src"
    mv "$tmp/src" "$root/src"
    rm -rf "$tmp"
    trap - EXIT
fi

drain_log_at_exit
# Only the binaries that are missing (all of them for a fresh cache): a cached build keeps its own.
wanted=()
for t in "${targets[@]}"; do [ -x "$build/bin/$t" ] && [ -f "$build/.log-drained" ] || wanted+=("$t"); done
echo "llama.cpp $version: building ${wanted[*]} in $build (log: $root/build.log)" >&2
start=$(date +%s)
if ! {
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF &&
        cmake --build "$build" -j2 --target "${wanted[@]}"
} >"$root/build.log" 2>&1; then
    tail -n 30 "$root/build.log" >&2
    echo "llama.cpp: the build failed (whole log: $root/build.log)" >&2
    exit 1
fi
touch "$build/.log-drained"
built || { echo "llama.cpp: the build ended without all of ${targets[*]} in $build/bin" >&2; exit 1; }
echo "llama.cpp $version: built in $(( $(date +%s) - start )) s" >&2
echo "$build/bin"
