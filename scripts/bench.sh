#!/bin/sh
# Runs every benchmark and prints its figures (docs/PERFORMANCE.md):
#
#   scripts/bench.sh [--quick] [--no-prosody]
#
# 1. bench_parse: stream parsing against raw libxml2 (seconds);
# 2. bench_relay: two engines in two processes on loopback: relay
#    throughput with and without TLS, cold connections, memory per stream
#    and relaying beside idle streams (about a minute; --quick: less);
# 3. bench/prosody-baseline.sh: the same figures for Prosody-to-Prosody
#    (about two minutes), and bench/xs2s-prosody.sh: xs2s sending to
#    Prosody and Prosody to xs2s (under a minute); both need root and the
#    Debian packages prosody and lua-unbound; skipped with --no-prosody or
#    when prosody is missing.
#
# Builds a release build in build-bench (BENCH_BUILD_DIR) first and makes
# the test certificates in a temporary directory. Every step is bounded.
set -u
cd "$(dirname "$0")/.."
build=${BENCH_BUILD_DIR:-build-bench}
quick='' prosody=1
for arg in "$@"; do
  case $arg in
    --quick) quick=--quick ;;
    --no-prosody) prosody=0 ;;
    *) echo "usage: scripts/bench.sh [--quick] [--no-prosody]" >&2; exit 2 ;;
  esac
done

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release -Dtests=false >/dev/null || exit 1
fi
meson compile -C "$build" >/dev/null || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
sh tests/data/make-certs.sh "$tmp/certs" || exit 1

status=0
echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== bench_parse"
timeout 300 "$build/bench/bench_parse" || status=1
echo "== bench_relay"
timeout 600 "$build/bench/bench_relay" "$tmp/certs" $quick || status=1
if [ $prosody = 1 ] && command -v prosody >/dev/null 2>&1; then
  echo "== Prosody to Prosody (bench/prosody-baseline.sh)"
  if [ -n "$quick" ]; then
    timeout 900 bash bench/prosody-baseline.sh --certs "$tmp/certs" \
      --messages 20000 --rounds 50 --links 50 || status=1
  else
    timeout 900 bash bench/prosody-baseline.sh --certs "$tmp/certs" || status=1
  fi
  echo "== xs2s and Prosody (bench/xs2s-prosody.sh)"
  timeout 600 bash bench/xs2s-prosody.sh "$build/bench/bench_relay" \
    "$tmp/certs" ${quick:+--messages 20000 --rounds 50} || status=1
fi
exit $status
