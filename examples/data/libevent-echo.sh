#!/bin/sh
# xs2s-libevent (l.test, 127.0.0.37, libevent loop) sends a message to
# xs2s-echo (e.test, 127.0.0.36, built-in loop) and must print the echo.
set -u
echo_bin=$1 libevent_bin=$2
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
"$echo_bin" --domain e.test --listen 127.0.0.36:5269 --tls off \
  --route l.test=127.0.0.37:5269 >"$dir/echo.out" 2>&1 &
pid=$!
for _ in $(seq 50); do
  grep -q '^ready' "$dir/echo.out" && break
  sleep 0.1
done
out=$(timeout 20 "$libevent_bin" --domain l.test --listen 127.0.0.37:5269 \
  --route e.test=127.0.0.36:5269 --send u@l.test echo@e.test 'hi there' 2>&1)
echo "$out"
cat "$dir/echo.out"
printf '%s\n' "$out" | grep -q '^message from e\.test: hi there$'
