#!/bin/sh
# The main job: builds xs2s and runs the demonstration, so a reader sees a
# real exchange. Until the sample gateway exists this parses a recorded S2S
# stream with the library's stream parser and prints what it understood.
set -eu
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
meson compile -C "$build" >/dev/null
echo "== xs2s-dump examples/data/sample-stream.xml"
"$build/examples/xs2s-dump" examples/data/sample-stream.xml
