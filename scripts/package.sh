#!/usr/bin/env bash
# Builds the release archive dist/aicompress-VERSION-linux-ARCH.tar.gz: one binary that needs no
# Swift toolchain and no shared library at all (the Swift runtime, Foundation and ICU, zlib,
# protobuf-c, libstdc++ and glibc linked in statically), a man page made from the
# command definitions, bash/zsh/fish completions, README and licenses.
#
#   scripts/package.sh              build (release, in .build-dist/) and pack
#   scripts/package.sh --no-build   pack the binary already built there again
#   LINK=shared-libc scripts/package.sh   glibc, libstdc++ and libgcc_s shared (position-dependent)
#   LINK=pie scripts/package.sh           the same, position-independent
# (see the comment at the link below; a LINK other than the one built last recompiles everything)
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
    for pc in zlib libprotobuf-c; do
        libdir=$(pkg-config --variable=libdir "$pc")
        for lib in $(pkg-config --libs-only-l "$pc" | sed 's/-l//g'); do
            [ -f "$libdir/lib$lib.a" ] || { echo "package.sh: $libdir/lib$lib.a missing (install the -dev package)" >&2; exit 1; }
            ln -sf "$(readlink -f "$libdir/lib$lib.a")" "$scratch/static-libs/lib$lib.a"
        done
        sed -e "s|^libdir=.*|libdir=$PWD/$scratch/static-libs|" -e "s|^sharedlibdir=.*|sharedlibdir=\${libdir}|" \
            "$(pkg-config --path "$pc")" > "$scratch/pkgconfig/$pc.pc"
    done
    # How the binary is linked, for start-up (BENCHMARKS.md, "Start-up"):
    # - static (default): a static executable (swiftc -static-executable). No dynamic loader runs:
    #   the ~1,800 symbol lookups that relocated glibc and libstdc++ and the mapping of 4 shared
    #   libraries are gone, and with them half of the page faults; `inspect` takes 0.56x the CPU
    #   time of shared-libc. It is position-dependent (its code at a fixed address; stack and heap
    #   are still randomized). glibc's name-service functions (getpwnam, getaddrinfo, ...) would
    #   load the machine's NSS modules at run time; the commands call none of them, and
    #   scripts/test-package.sh checks that none is opened.
    # - shared-libc: the Swift runtime static, glibc, libstdc++ and libgcc_s shared; -no-pie, so
    #   the loader has none of the ~91,000 relative relocations of the image to apply.
    # - pie: as shared-libc, position-independent.
    case "${LINK:-static}" in
        static) link=(-Xswiftc -static-executable) ;;
        shared-libc) link=(-Xlinker -no-pie) ;;
        pie) link=() ;;
        *) echo "package.sh: LINK=$LINK: one of static, shared-libc, pie" >&2; exit 1 ;;
    esac
    PKG_CONFIG_PATH="$PWD/$scratch/pkgconfig" swift build -c release --static-swift-stdlib \
        --scratch-path "$scratch" --product aicompress "${link[@]}"
    echo "${LINK:-static}" > "$scratch/link-mode"  # for the license notices of --no-build
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
    if [ "$(cat "$scratch/link-mode" 2>/dev/null || echo shared-libc)" = static ]; then
        # LGPL 2.1, section 6: the means to relink are this source tree and scripts/package.sh.
        notice "GNU C Library (Debian libc6)" /usr/share/doc/libc6/copyright
        notice "GNU Lesser General Public License 2.1 (the GNU C Library's)" /usr/share/common-licenses/LGPL-2.1
        notice "libstdc++ and libgcc (Debian gcc base, GCC Runtime Library Exception)" /usr/share/doc/libstdc++6/copyright
    fi
} > "$root/share/doc/aicompress/THIRD-PARTY-LICENSES"

mkdir -p dist
out="dist/$name.tar.gz"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --mode='u+rwX,go+rX,go-w' \
    --format=gnu -C "$stage" -cf - "$name" | gzip -n -9 > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out  $(wc -c < "$out") bytes  sha256 $(sha256sum "$out" | cut -d' ' -f1)"
