#!/bin/sh
# Builds xs2s with AddressSanitizer (with LeakSanitizer) and
# UndefinedBehaviorSanitizer and runs the whole test suite, every suite,
# once. Any sanitizer report fails the test that triggered it: UBSan is
# built with -fno-sanitize-recover=all, so undefined behaviour aborts.
#
#   scripts/sanitize.sh               gcc, build directory build-sanitize
#   CC=clang scripts/sanitize.sh      clang (its UBSan checks differ a little)
#
# SANITIZE_BUILD_DIR overrides the build directory. valgrind cannot run
# sanitized programs, so the valgrind pass stays in scripts/test.sh on the
# ordinary build. Prints one closing line "sanitizers: N passed, N failed,
# N skipped"; a skipped test counts as a failure.
set -u
cd "$(dirname "$0")/.."
build=${SANITIZE_BUILD_DIR:-build-sanitize}
export CC="${CC:-gcc}"

if [ ! -f "$build/build.ninja" ]; then
  # b_lundef=false: with clang, a sanitized shared library leaves the
  # runtime's symbols to the program that loads it.
  meson setup "$build" -Dwerror=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dc_args=-fno-sanitize-recover=all \
    -Dc_link_args=-fno-sanitize-recover=all -Dfuzz=disabled \
    -Dbench=false || exit 1
fi
meson compile -C "$build" || exit 1

# abort_on_error: a report kills the test with a signal even where the
# code under test catches exit codes; detect_leaks: LeakSanitizer at exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
meson test -C "$build" --print-errorlogs --num-processes 2 || status=1

python3 - "$build/meson-logs/testlog.json" <<'PY' || status=1
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    result = json.loads(line)["result"]
    if result == "OK":
        passed += 1
    elif result == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"sanitizers: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or skipped else 0)
PY
exit $status
