#!/bin/sh
# Every symbol libxs2s exports starts with xs2s_, and the library has a
# versioned SONAME.
set -eu
lib=$1
command -v nm >/dev/null || { echo "nm not found: install binutils" >&2; exit 1; }

# Defined, global symbols in the dynamic table; the version node itself
# (XS2S_0.1, an absolute symbol) is not a function.
symbols=$(nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | sed 's/@.*//')
[ -n "$symbols" ] || { echo "no exported symbols in $lib" >&2; exit 1; }

bad=$(printf '%s\n' "$symbols" | grep -v '^xs2s_' || true)
if [ -n "$bad" ]; then
  echo "symbols exported without the xs2s_ prefix:" >&2
  printf '  %s\n' $bad >&2
  exit 1
fi
printf '%s\n' "$symbols" | grep -qx 'xs2s_strerror' || {
  echo "xs2s_strerror is not exported" >&2; exit 1; }
printf '%s\n' "$symbols" | grep -q '^xs2s__' && {
  echo "internal xs2s__ symbols leaked into the export table" >&2; exit 1; }

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
case "$soname" in
  libxs2s.so.[0-9]*) ;;
  *) echo "unexpected SONAME '$soname'" >&2; exit 1 ;;
esac
echo "$(printf '%s\n' "$symbols" | wc -l) symbols exported, all xs2s_*; SONAME $soname"
