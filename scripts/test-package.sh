#!/usr/bin/env bash
# The release-archive lane: builds dist/aicompress-*.tar.gz with scripts/package.sh (a static
# release build, several minutes on 2 cores), then checks that
#   - packing again gives the same bytes, and the archive is sorted, owned by 0/0, one mtime;
#   - the binary needs no Swift, Foundation, ICU or dispatch library, nor zlib, protobuf-c or
#     OpenBLAS: nothing at all (a static executable), or with LINK=shared-libc/pie only glibc,
#     libstdc++ and libgcc_s; and (with strace) opens no shared library or NSS module at run time;
#   - with an empty environment (env -i) it gives the same stdout, stderr and output files as the
#     debug build (.build/debug/aicompress) for inspect, prune, quantize and evaluate on the demo;
#   - the man page renders (groff) with every subcommand, and the completions parse.
# Usage: scripts/test-package.sh [--no-build]   (--no-build: test the binary already built)
set -euo pipefail
cd "$(dirname "$0")/.."
debug=.build/debug/aicompress
[ -x "$debug" ] || { echo "test-package: build $debug first (swift build)" >&2; exit 1; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

scripts/package.sh ${1:-} | tee /tmp/aicompress-package.$$.log
archive=$(tail -n 1 /tmp/aicompress-package.$$.log | cut -d' ' -f1)
rm -f /tmp/aicompress-package.$$.log
first=$(sha256sum "$archive" | cut -d' ' -f1)
scripts/package.sh --no-build > /dev/null
second=$(sha256sum "$archive" | cut -d' ' -f1)
[ "$first" = "$second" ] && pass "packed twice, same bytes ($first)" || fail "packing twice gave $first and $second"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
listing=$(tar -tvzf "$archive")
names=$(tar -tzf "$archive")
[ "$names" = "$(LC_ALL=C sort <<< "$names")" ] && pass "names sorted" || fail "archive names are not sorted"
owners=$(awk '{print $2}' <<< "$listing" | sort -u)
[ "$owners" = "0/0" ] && pass "owner 0/0" || fail "owners in the archive: $owners"
[ "$(awk '{print $4, $5}' <<< "$listing" | sort -u | wc -l)" = 1 ] && pass "one mtime" || fail "several mtimes in the archive"

tar -xzf "$archive" -C "$work"
root=$(find "$work" -mindepth 1 -maxdepth 1 -type d)
bin="$root/bin/aicompress"
for f in bin/aicompress share/man/man1/aicompress.1 share/bash-completion/completions/aicompress \
         share/zsh/site-functions/_aicompress share/fish/vendor_completions.d/aicompress.fish \
         share/doc/aicompress/README.md share/doc/aicompress/THIRD-PARTY-LICENSES; do
    [ -s "$root/$f" ] || fail "archive lacks $f"
done

# Shared libraries: what the ELF asks for (readelf) and what the loader finds (ldd).
if [ "$(cat .build-dist/link-mode 2>/dev/null)" = static ]; then
    readelf -l "$bin" | grep -q INTERP && fail "the static build has a program interpreter (dynamic loader)" \
        || pass "static executable: no dynamic loader"
fi
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
unexpected=$(tr ' ' '\n' <<< "$needed" | grep -v -E '^(libc\.so\.6|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux-[a-z0-9_-]+\.so\.[0-9]+|)$' || true)
[ -z "$unexpected" ] && pass "needs only: ${needed:-no shared library}" || fail "needs $(tr '\n' ' ' <<< "$unexpected")"
if ldd "$bin" 2>&1 | grep -i -E 'swift|foundation|icu|dispatch|blocksruntime|openblas|protobuf|libz\.|gfortran|not found'; then
    fail "ldd lists a toolchain or -dev library (above)"
else
    pass "ldd: no Swift, Foundation, ICU, zlib, protobuf-c or OpenBLAS library"
fi

# The same commands through both builds, each in its own folder with the same relative names
# (outputs record their input's name), the packaged one with an empty environment.
run_all() {  # $1 = folder, $2... = how to start the binary
    local dir=$1; shift
    mkdir -p "$dir"
    cp fixtures/demo/mlp-digits.ckpt fixtures/demo/digits-test.csv "$dir/"
    (
        cd "$dir"
        set +e
        "$@" inspect mlp-digits.ckpt > inspect.out 2>&1; echo "exit $?" >> inspect.out
        "$@" prune --keep 0.5 mlp-digits.ckpt pruned.ckpt > prune.out 2>&1; echo "exit $?" >> prune.out
        "$@" quantize --int8 mlp-digits.ckpt q8.ckpt > quantize.out 2>&1; echo "exit $?" >> quantize.out
        "$@" quantize --int8 pruned.ckpt q8.onnx > quantize-onnx.out 2>&1; echo "exit $?" >> quantize-onnx.out
        "$@" evaluate q8.onnx --data digits-test.csv > evaluate.out 2>&1; echo "exit $?" >> evaluate.out
        "$@" inspect missing.ckpt > missing.out 2>&1; echo "exit $?" >> missing.out
    )
}
run_all "$work/debug" "$PWD/$debug"
run_all "$work/release" env -i "$bin"
for f in inspect.out prune.out quantize.out quantize-onnx.out evaluate.out missing.out pruned.ckpt q8.ckpt q8.onnx; do
    if cmp -s "$work/debug/$f" "$work/release/$f"; then
        pass "$f identical to the debug build's ($(wc -c < "$work/release/$f") bytes)"
    else
        fail "$f differs from the debug build's"
        diff <(head -c 2000 "$work/debug/$f") <(head -c 2000 "$work/release/$f") | head -n 10 || true
    fi
done
grep -q '^exit 0$' "$work/release/evaluate.out" || fail "evaluate in the package did not exit 0"
# What the binary opens at run time: no shared library and no name-service (NSS) module, which a
# static glibc would load from the machine (package.sh, "How the binary is linked").
if command -v strace > /dev/null; then
    (cd "$work/release" && env -i strace -f -qq -e trace=open,openat -o "$work/opened" "$bin" evaluate q8.onnx --data digits-test.csv > /dev/null 2>&1
     env -i strace -f -qq -e trace=open,openat -o "$work/opened2" "$bin" inspect mlp-digits.ckpt > /dev/null 2>&1) || true
    loaded=$(cat "$work/opened" "$work/opened2" | grep -E '\.so|nsswitch|libnss|gconv' || true)
    [ -z "$loaded" ] && pass "evaluate and inspect open no shared library or NSS module" \
        || fail "the packaged binary opens: $(head -n 3 <<< "$loaded")"
fi
grep -q '^exit 66$' "$work/release/missing.out" || fail "a missing file did not exit 66"

# The man page: renders, has the sections and every subcommand.
man1="$root/share/man/man1/aicompress.1"
if command -v groff > /dev/null; then
    # -P-cbou: plain text, no overstruck bold or underline.
    text=$(groff -mandoc -Tutf8 -P-cbou "$man1" 2> /dev/null) || fail "groff cannot render aicompress.1"
else
    text=$(cat "$man1")
fi
subcommands=$(env -i "$bin" --help | sed -n '/^SUBCOMMANDS:/,/^$/s/^  \([a-z]*\) .*/\1/p')
[ "$(wc -w <<< "$subcommands")" -ge 10 ] || fail "could not list the subcommands from --help"
missing=""
for want in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" $subcommands; do
    grep -q -F "$want" <<< "$text" || missing="$missing '$want'"
done
[ -z "$missing" ] && pass "man page renders with NAME, SYNOPSIS, DESCRIPTION, EXIT STATUS and $(wc -w <<< "$subcommands") subcommands" \
    || fail "man page lacks$missing"
bash -n "$root/share/bash-completion/completions/aicompress" && pass "bash completion parses" || fail "bash completion does not parse"
if command -v zsh > /dev/null; then zsh -n "$root/share/zsh/site-functions/_aicompress" || fail "zsh completion does not parse"; fi
if command -v fish > /dev/null; then fish -n "$root/share/fish/vendor_completions.d/aicompress.fish" || fail "fish completion does not parse"; fi
grep -q -- '--keep' "$root/share/bash-completion/completions/aicompress" || fail "bash completion lacks prune's --keep"

if [ "$failures" -gt 0 ]; then
    echo "test-package: $failures checks failed"
    exit 1
fi
echo "test-package: all checks passed ($(wc -c < "$archive") bytes, $(wc -c < "$bin")-byte binary)"
