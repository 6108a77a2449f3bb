#!/bin/sh
# The main job: builds xs2s and runs the demonstration (examples/demo.sh):
# two gateways on loopback federate with STARTTLS and dialback, and a
# message goes from a component behind one to a component behind the
# other, and back.
set -eu
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
meson compile -C "$build" >/dev/null
exec bash examples/demo.sh "$build"
