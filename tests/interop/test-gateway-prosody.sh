#!/bin/bash
# A Prosody user's server (a.test on 127.0.0.55) federating with a slixmpp
# component behind xs2s-gateway (b.test on 127.0.0.56): a message posted in
# Prosody reaches the component over STARTTLS + dialback, and the
# component's answer reaches Prosody's sink. Fails, not skips, when Prosody
# or slixmpp is missing.
#
#   test-gateway-prosody.sh BUILD-DIR SOURCE-DIR
set -u
BUILD=$1
SRC=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/prosody-fixture.sh"
. "$SRC/examples/gateway/env.sh"
pf_require || exit 1
gw_require

root=$(mktemp -d)
chmod 755 "$root"
export PF_CLEANUP_DIR=$root
trap 'kill -TERM "$(gw_pid b)" 2>/dev/null; pf_stop_all; wait; rm -rf "$root"' EXIT
. "$here/checks.sh"

gw_env "$root/gw"
gw_config b b.test 127.0.0.56 secret-b \
  "<route domain='a.test' target='127.0.0.55:5269'/><trust system='no'/>"
if pf_start "$root/prosody" --addr 127.0.0.55 --domain a.test \
    --peer b.test=127.0.0.56 --certs "$GW_DIR/certs" --s2s-timeout 20 \
    --require-encryption yes --secure-auth no \
    --cafile "$GW_DIR/certs/unknown-ca.pem"; then
  ok "Prosody started"
else
  fail "Prosody started"
fi
gw_start b && ok "gateway started" || fail "gateway started"
gw_component --jid b.test --secret secret-b --host 127.0.0.56 --echo 1 \
  --timeout 40 >"$root/component.out" 2>&1 &
comp=$!
sleep 1
pf_call "$root/prosody" 'reset("a.test")' >/dev/null
out=$(pf_call "$root/prosody" "post(\"<message from='sink@a.test/r' to='echo@b.test' type='chat' id='m1'><body>hello gateway</body></message>\")" 2>&1)
check "message posted in Prosody" "$out" '^posted$'
out=$(pf_call "$root/prosody" 'wait("a.test", 1, 30)' 2>&1)
check "the component's answer reached Prosody" "$out" '^count=1 '
out=$(pf_call "$root/prosody" 'last("a.test")' 2>&1)
check "the answer carries the body" "$out" '<body>re: hello gateway</body>'
wait "$comp"
check "the component saw the message" "$(cat "$root/component.out")" \
  'received from sink@a.test/r: hello gateway'
check "the gateway authenticated a.test by dialback over TLS" \
  "$(cat "$GW_DIR/b.log")" 's2s up: b.test <- a.test .*TLS, dialback'
gw_stop b && ok "gateway stopped cleanly" || fail "gateway stopped cleanly"
echo "passed $passed, failed $failed"
[ "$failed" -eq 0 ]
