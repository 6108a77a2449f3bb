#!/bin/bash
# The demonstration: two xs2s gateways on loopback federate with STARTTLS
# and dialback, each with an XEP-0114 component attached, and a message goes
# from the component behind a.test to the component behind b.test, which
# answers. No DNS server and no network: each gateway's resolver answers
# from its own local data; certificates are made on the fly with certtool.
#
#   examples/demo.sh [BUILD-DIR]      (scripts/demo.sh builds and runs it)
#
# Exits 0 when the message and its reply arrived and both gateways shut
# down cleanly.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
. "$SRC/examples/gateway/env.sh"
gw_require

dir=$(mktemp -d)
cleanup() {
  for g in a b; do
    pid=$(gw_pid "$g" || true)
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "Certificates for a.test and b.test (certtool), resolver data for both"
gw_env "$dir"
gw_dns a.test 127.0.0.21
gw_dns b.test 127.0.0.22
sed -n 's/^  local-data: /  DNS  /p' "$GW_DIR/dns.conf"
gw_config a a.test 127.0.0.21 secret-a
gw_config b b.test 127.0.0.22 secret-b

step "Two gateways: a.test on 127.0.0.21, b.test on 127.0.0.22 (STARTTLS required)"
GW_ECHO=1
gw_start a
gw_start b

step "Components attach: echo bot behind b.test, sender behind a.test"
gw_component --jid b.test --secret secret-b --host 127.0.0.22 --echo 1 \
  --timeout 30 | sed -u 's/^/  component | /' &
echo_pid=$!
for _ in $(seq 50); do
  grep -q "component b.test authenticated" "$GW_DIR/b.log" && break
  sleep 0.1
done

step "alice@a.test -> echo@b.test, through both gateways, and the reply back"
status=0
fail() {
  echo "  FAILED: $*"
  status=1
}
gw_component --jid a.test --secret secret-a --host 127.0.0.21 \
  --send echo@b.test --from alice@a.test \
  --body "Hello b.test, this is alice behind the a.test gateway" |
  sed -u 's/^/  component | /'
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "the sending component did not get its reply"
wait "$echo_pid" || fail "the echo component did not finish cleanly"

step "What each gateway saw (s2s streams: direction, TLS, authentication)"
grep -h "s2s up" "$GW_DIR/a.log" "$GW_DIR/b.log" |
  sed 's/^[^ ]* [a-z]* *//; s/^/  /'

step "Clean shutdown (SIGTERM)"
gw_stop a || fail "gateway a.test did not stop cleanly"
gw_stop b || fail "gateway b.test did not stop cleanly"
sleep 0.2
if [ "$status" -eq 0 ]; then
  step "Demo OK: the message crossed the federation and the reply came back"
else
  step "Demo FAILED"
fi
exit "$status"
