#!/bin/sh
# `meson install` into a scratch root, then build and run a program against
# the installed copy with nothing but pkg-config, as an embedder would.
set -eu
builddir=$1
source=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

DESTDIR=$root meson install -C "$builddir" --no-rebuild --quiet

pc=$(find "$root" -name xs2s.pc | head -n 1)
[ -n "$pc" ] || { echo "xs2s.pc was not installed" >&2; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$root"

pkg-config --print-requires-private xs2s | grep -q libxml-2.0 || {
  echo "xs2s.pc lacks libxml-2.0 in Requires.private" >&2; exit 1; }
for h in xs2s.h common.h condition.h version.h; do
  find "$root" -path "*/include/xs2s/$h" | grep -q . || {
    echo "header xs2s/$h was not installed" >&2; exit 1; }
done

# CC and SMOKE_CFLAGS: the compiler and sanitizer flags of a sanitized build.
${CC:-cc} -Wall -Werror ${SMOKE_CFLAGS:-} -o "$root/smoke" "$source" \
  $(pkg-config --cflags --libs xs2s)
libdir=$(dirname "$(dirname "$pc")")
LD_LIBRARY_PATH="$libdir" "$root/smoke"
