#!/bin/sh
# Runs libFuzzer targets for a bounded time:
#
#   scripts/fuzz.sh TARGET SECONDS    one target
#   scripts/fuzz.sh all SECONDS       every target, one after the other,
#                                     SECONDS each
#   scripts/fuzz.sh list              the target names
#
# Targets: parser, stanza_parse, session, dialback, starttls, srv,
# gateway_config, gateway_component. Builds
# them with clang in their own build directory (FUZZ_BUILD_DIR, default
# build-fuzz). The seed corpus in tests/fuzz/corpus/TARGET is read, never
# written: new inputs go to the build directory, a crashing input to
# build-fuzz/crash-TARGET-*; add it to the seed corpus once fixed, so that
# it replays in every test run. Each run ends with a line
#   fuzz: TARGET runs=N seconds=S cov=C ft=F corpus=K crashed=0|1
# (cov and ft are libFuzzer's edge and feature counts).
set -eu
cd "$(dirname "$0")/.."
targets="parser stanza_parse session dialback starttls srv gateway_config gateway_component"
target=${1:?usage: scripts/fuzz.sh TARGET|all|list SECONDS}
seconds=${2:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}

if [ "$target" = list ]; then
  echo "$targets"
  exit 0
fi
command -v clang >/dev/null || {
  echo "clang not found: install the Debian packages clang and libclang-rt-14-dev" >&2
  exit 1
}
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzz=enabled -Dbench=false || exit 1
fi

run_one() {
  name=$1
  [ -d "tests/fuzz/corpus/$name" ] || {
    echo "unknown fuzz target '$name' (known: $targets)" >&2
    return 1
  }
  meson compile -C "$build" "fuzz_$name" >/dev/null || return 1
  bin="$build/tests/fuzz/fuzz_$name"
  [ -x "$bin" ] || bin="$build/tests/fuzz_$name"
  work="$build/corpus-$name"
  log="$build/fuzz-$name.log"
  mkdir -p "$work"
  dict=
  [ "$name" = srv ] || dict=-dict=tests/fuzz/xmpp.dict
  start=$(date +%s)
  crashed=0
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -max_len=8192 \
    -timeout=10 -rss_limit_mb=2048 $dict \
    -artifact_prefix="$build/crash-$name-" "$work" "tests/fuzz/corpus/$name" \
    >"$log" 2>&1 || crashed=1
  end=$(date +%s)
  if [ $crashed = 1 ]; then
    tail -n 60 "$log" >&2
  fi
  awk -v name="$name" -v secs=$((end - start)) -v crashed=$crashed '
    /^#[0-9]+/ && / cov: / {
      for (i = 1; i <= NF; i++) {
        if ($i == "cov:") cov = $(i + 1)
        if ($i == "ft:") ft = $(i + 1)
        if ($i == "corp:") { corp = $(i + 1); sub(/\/.*/, "", corp) }
      }
    }
    /^stat::number_of_executed_units:/ { runs = $2 }
    END {
      printf "fuzz: %s runs=%s seconds=%s cov=%s ft=%s corpus=%s crashed=%s\n",
             name, runs, secs, cov, ft, corp, crashed
    }' "$log"
  return $crashed
}

if [ "$target" = all ]; then
  status=0
  for t in $targets; do
    run_one "$t" || status=1
  done
  exit $status
fi
run_one "$target"
