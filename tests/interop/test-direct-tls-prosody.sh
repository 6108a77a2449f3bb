#!/bin/bash
# XEP-0368 direct TLS with a real Prosody, both directions. Prosody (a.test
# on 127.0.0.57) listens for direct TLS on port 5270 beside STARTTLS on
# 5269; xs2s-echo (b.test on 127.0.0.58) listens for direct TLS only, on
# 5270, and reaches a.test through a direct-TLS static route. Prosody finds
# b.test through an _xmpps-server SRV record that knot serves on
# 127.0.0.59@5300. (Prosody's direct-TLS port takes its trust anchors from
# its own ssl option, not from the VirtualHost's.) Nothing listens for STARTTLS on b.test's side, so a
# pong and an echo prove that both streams started with TLS. Certificates
# are trusted and required (SASL EXTERNAL both ways). Fails, not skips,
# when Prosody or knot is missing.
#
#   test-direct-tls-prosody.sh CERTS_DIR XS2S_ECHO
set -u
certs=${1:?usage: test-direct-tls-prosody.sh CERTS_DIR XS2S_ECHO}
echo_bin=${2:?usage: test-direct-tls-prosody.sh CERTS_DIR XS2S_ECHO}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/prosody-fixture.sh"
pf_require || exit 1

addr_p=127.0.0.57
addr_x=127.0.0.58
dns=127.0.0.59
root=$(mktemp -d)
chmod 755 "$root"
export PF_CLEANUP_DIR=$root
echo_pid=
stop_children() {
  [ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
  echo_pid=
  pf_knot_stop
}
trap 'stop_children; pf_stop_all; [ -n "${KEEP_LOGS:-}" ] && cp -r "$root" "$KEEP_LOGS"; rm -rf "$root"' EXIT
trap 'exit 1' INT TERM

. "$here/checks.sh"

# knot: b.test is reachable only by direct TLS, on port 5270.
if pf_knot_start "$root/knot" $dns@5300 \
    "_xmpps-server._tcp.b SRV 0 0 5270 b.test." "b A $addr_x"; then
  ok "knot serves the test zone"
else
  fail "knot serves the test zone"
  exit 1
fi

if pf_start "$root/prosody" --addr $addr_p --domain a.test --dns $dns@5300 \
    --certs "$certs" --secure-auth yes --require-encryption yes \
    --s2s-timeout 20 --log-level debug \
    --option 's2s_direct_tls_ports = { 5270 }' \
    --option "s2s_direct_tls_ssl = { cafile = \"$root/prosody/certs/cafile.pem\" }"; then
  ok "Prosody started"
else
  fail "Prosody started"
  echo "passed $passed, failed $failed"
  exit 1
fi

"$echo_bin" --domain b.test --listen-tls $addr_x:5270 \
  --cert "$certs/b.test.pem" --key "$certs/b.test.key" --ca "$certs/ca.pem" \
  --tls required --route-tls a.test=$addr_p:5270 \
  --verbose >"$root/echo.out" 2>"$root/echo.err" &
echo_pid=$!
for _ in $(seq 50); do
  grep -q '^ready' "$root/echo.out" 2>/dev/null && break
  sleep 0.1
done
check "xs2s-echo started with a direct-TLS listener" "$(cat "$root/echo.out")" \
  '^ready b\.test port 5270$'

# Prosody -> xs2s: _xmpps-server SRV, TLS from the first byte.
out=$(pf_shell "$root/prosody" "xmpp:ping('a.test', 'b.test', 20)" 2>&1)
check "Prosody -> xs2s-echo over direct TLS: pong from b.test" "$out" \
  '^Result: pong from b\.test'
out=$(pf_call "$root/prosody" 'link("a.test", "b.test")' 2>&1)
check "Prosody's a.test --> b.test is TLS with certificates" "$out" \
  '^tls=yes auth=cert$'

# xs2s -> Prosody: the echo leaves through the direct-TLS route.
pf_call "$root/prosody" 'reset("a.test")' >/dev/null
out=$(pf_call "$root/prosody" "post(\"<message from='sink@a.test/r' to='echo@b.test' type='chat' id='d1'><body>direct tls</body></message>\")" 2>&1)
check "message posted in Prosody" "$out" '^posted$'
out=$(pf_call "$root/prosody" 'wait("a.test", 1, 20)' 2>&1)
check "xs2s-echo -> Prosody over direct TLS: the echo reached the sink" \
  "$out" '^count=1 '
out=$(pf_call "$root/prosody" 'last("a.test")' 2>&1)
check "the echo carries the body" "$out" '<body>direct tls</body>'
sleep 0.2
log=$(cat "$root/echo.out")
check "xs2s-echo: incoming a.test over TLS with SASL EXTERNAL" "$log" \
  '^up incoming a\.test .* tls=yes auth=sasl-external$'
check "xs2s-echo: outgoing a.test to port 5270 with SASL EXTERNAL" "$log" \
  "^up outgoing a\\.test $addr_p:5270 tls=yes auth=sasl-external\$"
plog=$(cat "$root/prosody/prosody.log" 2>/dev/null)
check "Prosody accepted xs2s-echo's connection on its direct-TLS port" \
  "$plog" "New connection FD [0-9]+ \\([^)]*, $addr_p, 5270\\)"
stop_children
if grep -q "ERROR\|error:" "$root/echo.err"; then
  fail "xs2s-echo logged no error"
  cat "$root/echo.err"
else
  ok "xs2s-echo logged no error"
fi

echo "passed $passed, failed $failed"
[ "$failed" -eq 0 ]
