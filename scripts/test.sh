#!/bin/sh
# Builds xs2s with warnings as errors and runs the whole test suite, then the
# unit tests again under valgrind memcheck. Prints one closing line
# "tests: N passed, N failed, N skipped"; a skipped test counts as a failure.
set -u
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

if [ -f "$build/build.ninja" ]; then
  meson configure "$build" -Dwerror=true || exit 1
else
  meson setup "$build" -Dwerror=true || exit 1
fi
meson compile -C "$build" || exit 1

status=0
meson test -C "$build" --print-errorlogs --num-processes 2 || status=1
cp "$build/meson-logs/testlog.json" "$build/meson-logs/testlog-main.json"
meson test -C "$build" --setup valgrind --suite unit --print-errorlogs \
  --num-processes 2 || status=1

python3 - "$build/meson-logs/testlog-main.json" \
  "$build/meson-logs/testlog-valgrind.json" <<'PY' || status=1
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        result = json.loads(line)["result"]
        if result == "OK":
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or skipped else 0)
PY
exit $status
