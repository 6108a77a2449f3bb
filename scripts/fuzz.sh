#!/bin/sh
# Runs one libFuzzer target for a bounded time: scripts/fuzz.sh TARGET SECONDS
# (TARGET: parser or stanza_parse). Builds the targets with clang in their
# own build directory (FUZZ_BUILD_DIR, default build-fuzz). The seed corpus
# in tests/fuzz/corpus/TARGET is read, never written: new inputs go to the
# build directory, a crashing input to build-fuzz/crash-TARGET-*; add it to
# the seed corpus once fixed, so that it replays in every test run.
set -eu
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}

command -v clang >/dev/null || {
  echo "clang not found: install the Debian packages clang and libclang-rt-14-dev" >&2
  exit 1
}
[ -d "tests/fuzz/corpus/$target" ] || {
  echo "unknown fuzz target '$target'" >&2
  exit 1
}
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzz=enabled -Dbench=false || exit 1
fi
meson compile -C "$build" "fuzz_$target" || exit 1

work="$build/corpus-$target"
mkdir -p "$work"
"$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" \
  -print_final_stats=1 -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
  -artifact_prefix="$build/crash-$target-" "$work" "tests/fuzz/corpus/$target"
