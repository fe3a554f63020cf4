#!/usr/bin/env bash
# Builds the release archive dist/aicompress-VERSION-linux-ARCH.tar.gz: one binary that needs no
# Swift toolchain (the Swift runtime, Foundation and ICU, zlib, protobuf-c and OpenBLAS linked in
# statically; only glibc, libstdc++ and libgcc_s stay shared, present on every Debian/Ubuntu), a
# man page made from the command definitions, bash/zsh/fish completions, README and licenses.
#
#   scripts/package.sh              build (release, in .build-dist/) and pack
#   scripts/package.sh --no-build   pack the binary already built there again
#   PIE=1 scripts/package.sh        a position-independent binary (default: position-dependent,
#                                   for start-up; see the comment at the link below)
#
# The archive is deterministic: the same commit gives the same bytes (sorted names, owner 0/0,
# mtimes and the man page's date from SOURCE_DATE_EPOCH, default the last commit's time, gzip -n).
# Its layout is a prefix: `tar -xzf … --strip-components=1 -C ~/.local` puts the binary in
# ~/.local/bin, the man page where `man` finds it, and the completions where the shells look.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
[ "${1:-}" = "--no-build" ] && build=0

scratch=.build-dist
version=$(sed -n 's/.*static let string = "\(.*\)".*/\1/p' Sources/AICompressCore/Version.swift)
[ -n "$version" ] || { echo "package.sh: no version in Sources/AICompressCore/Version.swift" >&2; exit 1; }
arch=$(uname -m)
name="aicompress-$version-linux-$arch"
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
bin="$scratch/release/aicompress"

if [ "$build" = 1 ]; then
    # Static archives instead of shared libraries: pkg-config files that point the linker at a
    # folder holding only the Debian .a files (same Cflags, so nothing recompiles for them).
    mkdir -p "$scratch/static-libs" "$scratch/pkgconfig"
    for pc in zlib libprotobuf-c openblas; do
        libdir=$(pkg-config --variable=libdir "$pc")
        for lib in $(pkg-config --libs-only-l "$pc" | sed 's/-l//g'); do
            [ -f "$libdir/lib$lib.a" ] || { echo "package.sh: $libdir/lib$lib.a missing (install the -dev package)" >&2; exit 1; }
            ln -sf "$(readlink -f "$libdir/lib$lib.a")" "$scratch/static-libs/lib$lib.a"
        done
        sed -e "s|^libdir=.*|libdir=$PWD/$scratch/static-libs|" -e "s|^sharedlibdir=.*|sharedlibdir=\${libdir}|" \
            "$(pkg-config --path "$pc")" > "$scratch/pkgconfig/$pc.pc"
    done
    # OpenBLAS's threads start at the first matrix product, not before main (see the C file).
    clang -O2 -fPIC $(pkg-config --cflags openblas) -c scripts/package/openblas-deferred.c \
        -o "$scratch/openblas-deferred.o"
    # A position-dependent executable (-no-pie): the loader then has none of the ~91,000
    # relative relocations of the 90 MB image to apply, and the pages they dirtied (half of the
    # page faults of `inspect`) are never touched; the cost is that the binary's own code sits at a
    # fixed address (shared libraries, stack and heap are still randomized). PIE=1 keeps it PIE.
    pie=(-Xlinker -no-pie)
    [ "${PIE:-0}" = 1 ] && pie=()
    PKG_CONFIG_PATH="$PWD/$scratch/pkgconfig" swift build -c release --static-swift-stdlib \
        --scratch-path "$scratch" --product aicompress \
        -Xlinker "$PWD/$scratch/openblas-deferred.o" -Xlinker -lopenblas \
        -Xlinker --wrap=getenv -Xlinker --wrap=cblas_sgemm -Xlinker --wrap=openblas_get_num_threads "${pie[@]}"
    # ArgumentParser's man-page generator (a tool target of the dependency), run on our binary.
    swift build --scratch-path "$scratch" --product generate-manual
fi
[ -x "$bin" ] || { echo "package.sh: $bin not built (run without --no-build)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/bin" "$root/share/man/man1" "$root/share/bash-completion/completions" \
    "$root/share/zsh/site-functions" "$root/share/fish/vendor_completions.d" "$root/share/doc/aicompress"
strip -o "$root/bin/aicompress" "$bin"
b="$root/bin/aicompress"
"$scratch/debug/generate-manual" "$b" --date "$(date -u -d "@$epoch" +%Y-%m-%d)" -o "$root/share/man/man1"
[ -s "$root/share/man/man1/aicompress.1" ] || { echo "package.sh: no man page generated" >&2; exit 1; }
env -i "$b" --generate-completion-script bash > "$root/share/bash-completion/completions/aicompress"
env -i "$b" --generate-completion-script zsh > "$root/share/zsh/site-functions/_aicompress"
env -i "$b" --generate-completion-script fish > "$root/share/fish/vendor_completions.d/aicompress.fish"
cp README.md "$root/share/doc/aicompress/README.md"
if [ -f LICENSE ]; then
    cp LICENSE "$root/share/doc/aicompress/LICENSE"
else
    echo "package.sh: warning: no LICENSE file in the repository; the archive has none of its own" >&2
fi
# What the binary contains from others, with their licenses (BSD/MIT-style notices must travel
# with a binary that links them in).
{
    notice() { printf '\n==== %s\n\n' "$1"; cat "$2"; }
    echo "aicompress $version links in the following software."
    notice "Swift runtime, Foundation, ICU (swift.org toolchain $(swift --version 2>/dev/null | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -n1))" \
        "$(dirname "$(readlink -f "$(command -v swift)")")/../share/swift/LICENSE.txt"
    notice "swift-argument-parser" "$scratch/checkouts/swift-argument-parser/LICENSE.txt"
    notice "Yams (with libyaml)" "$scratch/checkouts/Yams/LICENSE"
    notice "zlib (Debian zlib1g)" /usr/share/doc/zlib1g/copyright
    notice "protobuf-c (Debian libprotobuf-c1)" /usr/share/doc/libprotobuf-c1/copyright
    notice "OpenBLAS (Debian libopenblas0-pthread)" /usr/share/doc/libopenblas0-pthread/copyright
} > "$root/share/doc/aicompress/THIRD-PARTY-LICENSES"

mkdir -p dist
out="dist/$name.tar.gz"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --mode='u+rwX,go+rX,go-w' \
    --format=gnu -C "$stage" -cf - "$name" | gzip -n -9 > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out  $(wc -c < "$out") bytes  sha256 $(sha256sum "$out" | cut -d' ' -f1)"
