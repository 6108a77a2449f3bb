#!/bin/bash
# xs2s-gateway with real XEP-0114 components (slixmpp, Debian package
# python3-slixmpp): two gateways on 127.0.0.23 (a.test) and 127.0.0.24
# (b.test) federating with STARTTLS and dialback.
#
#   test-gateway.sh BUILD-DIR SOURCE-DIR
set -u
BUILD=$1
SRC=$2
. "$SRC/examples/gateway/env.sh"
gw_require

dir=$(mktemp -d)
pass=0 fail=0
cleanup() {
  for g in a b; do
    pid=$(gw_pid "$g")
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); shift; for f in "$@"; do echo "--- $f"; cat "$f"; done; }

# expect NAME STATUS PATTERN CMD...: CMD exits with STATUS and prints PATTERN.
expect() {
  name=$1 want=$2 pattern=$3
  shift 3
  "$@" >"$dir/out" 2>&1
  got=$?
  if [ "$got" -eq "$want" ] && grep -q -- "$pattern" "$dir/out"; then
    ok "$name"
  else
    echo "exit $got, expected $want and '$pattern'" >>"$dir/out"
    bad "$name" "$dir/out" "$GW_DIR/a.log" "$GW_DIR/b.log"
  fi
}

gw_env "$dir"
gw_dns a.test 127.0.0.23
gw_dns b.test 127.0.0.24
gw_config a a.test 127.0.0.23 secret-a \
  "<privacy mode='allow'><allow domain='c.test'/></privacy>"
gw_config b b.test 127.0.0.24 secret-b
GW_LOG_LEVEL=debug
gw_start a || exit 1
gw_start b || exit 1

A="--jid a.test --secret secret-a --host 127.0.0.23"
B="--jid b.test --secret secret-b --host 127.0.0.24"

# -- Configuration errors name the line -----------------------------------
printf '<gateway>\n  <domain name="a.test"/>\n  <colour/>\n</gateway>\n' >"$dir/bad.xml"
expect "config error names file and line" 1 "bad.xml:3: unknown element <colour> inside <gateway>" \
  "$BUILD/examples/gateway/xs2s-gateway" -c "$dir/bad.xml"
expect "config check (-t) accepts a good file" 0 "configuration OK" \
  "$BUILD/examples/gateway/xs2s-gateway" -t -c "$GW_DIR/b.xml"

# The commented sample parses (its certificates replaced by test ones).
mkdir -p "$dir/sample/certs"
cp "$GW_DIR/certs/a.test.pem" "$dir/sample/certs/chat.example.com.pem"
cp "$GW_DIR/certs/a.test.key" "$dir/sample/certs/chat.example.com.key"
sed "s|/etc/resolv.conf|$GW_DIR/dns.conf|" "$SRC/examples/gateway/gateway.xml" \
  >"$dir/sample/gateway.xml"
expect "the sample gateway.xml is valid" 0 "configuration OK (1 local domains, 1 components)" \
  "$BUILD/examples/gateway/xs2s-gateway" -t -c "$dir/sample/gateway.xml"

# -- Components authenticate or not ----------------------------------------
expect "wrong component secret: not-authorized" 2 "stream error: not-authorized" \
  gw_component --jid a.test --secret wrong --host 127.0.0.23 --echo 1 --timeout 5
expect "unknown component domain: host-unknown" 2 "stream error: host-unknown" \
  gw_component --jid c.test --secret x --host 127.0.0.23 --echo 1 --timeout 5

# -- No component connected behind b.test ---------------------------------
# (the allow list of a.test does not name b.test yet: policy first)
expect "privacy allow list refuses b.test" 3 "error reply from echo@b.test: policy-violation" \
  gw_component $A --send echo@b.test --timeout 10
# count PATTERN FILE: lines of FILE that contain PATTERN.
count() { grep -c -- "$1" "$2"; }

# reload_a ALLOW...: a.test's allow list becomes ALLOW..., then SIGHUP;
# waits for the reload to be logged.
reload_a() {
  list=""
  for d in "$@"; do list="$list<allow domain='$d'/>"; done
  gw_config a a.test 127.0.0.23 secret-a "<privacy mode='allow'>$list</privacy>"
  before=$(count "configuration reloaded" "$GW_DIR/a.log")
  kill -HUP "$(gw_pid a)"
  for _ in $(seq 50); do
    [ "$(count "configuration reloaded" "$GW_DIR/a.log")" -gt "$before" ] && return 0
    sleep 0.1
  done
  return 1
}

reload_a c.test b.test && ok "SIGHUP reloads the configuration" ||
  bad "SIGHUP reloads the configuration" "$GW_DIR/a.log"
grep -q "reload: engine reconfigured in place" "$GW_DIR/a.log" &&
  ok "the allow list is applied to the running engine" ||
  bad "the allow list is applied to the running engine" "$GW_DIR/a.log"
expect "no component behind b.test: service-unavailable" 3 "error reply from echo@b.test: service-unavailable" \
  gw_component $A --send echo@b.test --timeout 15

# -- Both ways, with the allow list reloaded -------------------------------
gw_component $B --echo 1 --timeout 20 >"$dir/echo-b" 2>&1 &
echo_b=$!
sleep 1
expect "a.test component -> b.test component and back" 0 "received reply from echo@b.test: re: hello" \
  gw_component $A --send echo@b.test --timeout 15
wait "$echo_b" && ok "b.test component answered" || bad "b.test component answered" "$dir/echo-b"

gw_component $A --echo 1 --timeout 20 >"$dir/echo-a" 2>&1 &
echo_a=$!
sleep 1
expect "b.test component -> a.test component and back" 0 "received reply from echo@a.test: re: hello" \
  gw_component $B --send echo@a.test --timeout 15
wait "$echo_a" && ok "a.test component answered" || bad "a.test component answered" "$dir/echo-a"

# -- A reload keeps the established S2S streams ----------------------------
# Streams a.test <-> b.test are up; d.test joins the allow list.
ups=$(count "s2s up:" "$GW_DIR/a.log")
downs=$(count "s2s down:" "$GW_DIR/a.log")
in_place=$(count "federation settings applied in place" "$GW_DIR/a.log")
reload_a c.test b.test d.test &&
  [ "$(count "federation settings applied in place" "$GW_DIR/a.log")" -gt "$in_place" ] &&
  ok "allow-list reload applied in place" || bad "allow-list reload applied in place" "$GW_DIR/a.log"
gw_component $B --echo 1 --timeout 20 >"$dir/echo-b2" 2>&1 &
echo_b=$!
sleep 1
expect "a.test component -> b.test after the reload" 0 "received reply from echo@b.test: re: hello" \
  gw_component $A --send echo@b.test --timeout 15
wait "$echo_b"
if [ "$ups" -ge 2 ] && [ "$(count "s2s up:" "$GW_DIR/a.log")" -eq "$ups" ] &&
   [ "$(count "s2s down:" "$GW_DIR/a.log")" -eq "$downs" ]; then
  ok "the S2S streams survived the reload (no new s2s up, no s2s down)"
else
  bad "the S2S streams survived the reload (no new s2s up, no s2s down)" "$GW_DIR/a.log"
fi
# d.test has no server: the newly allowed domain is tried, not refused.
expect "newly allowed d.test is tried (remote-server-not-found)" 3 "error reply from echo@d.test: remote-server-not-found" \
  gw_component $A --send echo@d.test --timeout 15

# -- One component per domain ----------------------------------------------
gw_component $B --echo 0 >"$dir/holder" 2>&1 &
holder=$!
sleep 1
expect "second component for b.test: conflict" 2 "stream error: conflict" \
  gw_component $B --echo 1 --timeout 5
kill -TERM "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

# -- A component may only speak for its own domain ------------------------
expect "spoofed from: invalid-from" 2 "stream error: invalid-from" \
  gw_component $A --raw "<message from='mallory@b.test' to='echo@b.test'><body>x</body></message>" --timeout 5
grep -q "invalid-from" "$GW_DIR/a.log" && ok "gateway logs the invalid-from" ||
  bad "gateway logs the invalid-from" "$GW_DIR/a.log"

# -- A reload that drops b.test from the allow list ------------------------
reload_a c.test
for _ in $(seq 50); do
  grep -q "s2s down: a.test -> b.test" "$GW_DIR/a.log" && break
  sleep 0.1
done
grep -q "s2s down: a.test -> b.test" "$GW_DIR/a.log" &&
  grep -q "policy-violation" "$GW_DIR/b.log" &&
  ok "b.test no longer allowed: its stream closed with policy-violation" ||
  bad "b.test no longer allowed: its stream closed with policy-violation" "$GW_DIR/a.log" "$GW_DIR/b.log"
expect "b.test no longer allowed: policy-violation" 3 "error reply from echo@b.test: policy-violation" \
  gw_component $A --send echo@b.test --timeout 10

# -- Status line and clean shutdown -----------------------------------------
kill -USR1 "$(gw_pid a)"
sleep 0.3
grep -q "status: up" "$GW_DIR/a.log" && ok "SIGUSR1 prints a status line" ||
  bad "SIGUSR1 prints a status line" "$GW_DIR/a.log"
gw_stop a && ok "SIGTERM stops a.test cleanly" || bad "SIGTERM stops a.test cleanly" "$GW_DIR/a.log"
gw_stop b && ok "SIGTERM stops b.test cleanly" || bad "SIGTERM stops b.test cleanly" "$GW_DIR/b.log"

echo "gateway: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
