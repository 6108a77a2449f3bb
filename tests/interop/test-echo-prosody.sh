#!/bin/bash
# xs2s-echo (b.test on 127.0.0.54) federating with a real Prosody (a.test on
# 127.0.0.53): Prosody pings xs2s-echo and gets the pong; a message from
# Prosody is echoed back by xs2s-echo over its own outgoing stream and
# reaches Prosody's sink. Twice: STARTTLS required with dialback (each side
# distrusts the other's certificate), and STARTTLS with certificates (SASL
# EXTERNAL both ways). Fails, not skips, when Prosody is missing.
#
#   test-echo-prosody.sh CERTS_DIR XS2S_ECHO
set -u
certs=${1:?usage: test-echo-prosody.sh CERTS_DIR XS2S_ECHO}
echo_bin=${2:?usage: test-echo-prosody.sh CERTS_DIR XS2S_ECHO}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/prosody-fixture.sh"
pf_require || exit 1

addr_p=127.0.0.53
addr_x=127.0.0.54
root=$(mktemp -d)
chmod 755 "$root"
export PF_CLEANUP_DIR=$root
echo_pid=
stop_echo() {
  [ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
  echo_pid=
}
trap 'stop_echo; pf_stop_all; [ -n "${KEEP_LOGS:-}" ] && cp -r "$root" "$KEEP_LOGS"; rm -rf "$root"' EXIT
trap 'exit 1' INT TERM

. "$here/checks.sh"

# start_echo NAME CAFILE: xs2s-echo for b.test, Prosody's a.test by route.
start_echo() {
  "$echo_bin" --domain b.test --listen $addr_x:5269 \
    --cert "$certs/b.test.pem" --key "$certs/b.test.key" --ca "$2" \
    --tls required --secret "s3cret-$1" --route a.test=$addr_p:5269 \
    --verbose >"$root/$1.out" 2>"$root/$1.err" &
  echo_pid=$!
  for _ in $(seq 50); do
    grep -q '^ready' "$root/$1.out" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# scenario NAME AUTH ECHO-CA PROSODY-OPTIONS...
scenario() {
  local name=$1 auth=$2 ca=$3
  shift 3
  pf_stop_all
  stop_echo
  if ! pf_start "$root/$name" --addr $addr_p --domain a.test \
      --peer b.test=$addr_x --certs "$certs" --s2s-timeout 20 --log-level debug \
      --require-encryption yes "$@"; then
    fail "$name: Prosody started"
    return
  fi
  ok "$name: Prosody started"
  if ! start_echo "$name" "$ca"; then
    fail "$name: xs2s-echo started"
    cat "$root/$name.err"
    return
  fi
  ok "$name: xs2s-echo started"
  out=$(pf_shell "$root/$name" "xmpp:ping('a.test', 'b.test', 20)" 2>&1)
  check "$name: Prosody -> xs2s-echo: pong from b.test" "$out" \
    '^Result: pong from b\.test'
  pf_call "$root/$name" 'reset("a.test")' >/dev/null
  out=$(pf_call "$root/$name" "post(\"<message from='sink@a.test/r' to='echo@b.test' type='chat' id='m1'><body>hello xs2s</body></message>\")" 2>&1)
  check "$name: message posted in Prosody" "$out" '^posted$'
  out=$(pf_call "$root/$name" 'wait("a.test", 1, 20)' 2>&1)
  check "$name: xs2s-echo -> Prosody: the echo reached Prosody's sink" \
    "$out" '^count=1 '
  out=$(pf_call "$root/$name" 'last("a.test")' 2>&1)
  check "$name: the echo carries the body" "$out" '<body>hello xs2s</body>'
  sleep 0.2
  log=$(cat "$root/$name.out")
  check "$name: xs2s-echo saw the message" "$log" \
    '^message from a\.test: hello xs2s$'
  check "$name: incoming a.test authenticated by $auth over TLS" "$log" \
    "^up incoming a\.test .* tls=yes auth=$auth\$"
  check "$name: outgoing a.test authenticated by $auth over TLS" "$log" \
    "^up outgoing a\.test .* tls=yes auth=$auth\$"
  out=$(pf_call "$root/$name" 'link("a.test", "b.test")' 2>&1)
  check "$name: Prosody's view of a.test --> b.test" "$out" '^tls=yes '
  [ "$name" = sm ] && sm_checks "$name"
  stop_echo
  if grep -q "ERROR\|error:" "$root/$name.err"; then
    fail "$name: xs2s-echo logged no error"
    cat "$root/$name.err"
  else
    ok "$name: xs2s-echo logged no error"
  fi
}

# XEP-0198 with Prosody's mod_smacks. Prosody offers <sm/> on an s2s
# stream only once it is authenticated when it sends its features, that is
# after SASL EXTERNAL (not with dialback, whose features come first), and
# it never makes an s2s stream resumable: acknowledgements only.
sm_checks() {
  local log
  sleep 1.5 # one acknowledgement round after the echo
  log=$(cat "$root/$1.err")
  check "$1: xs2s-echo enabled stream management towards Prosody" "$log" \
    'conn [0-9]+ outgoing: stream management on \(acknowledgements\)'
  check "$1: Prosody acknowledged the echo (<a h='1'/>)" "$log" \
    'the peer acknowledged 1 stanzas \(h=1\)'
  check "$1: Prosody enabled stream management towards xs2s-echo" "$log" \
    'conn [0-9]+ incoming: stream management on'
  log=$(cat "$root/$1/prosody.log")
  check "$1: Prosody's log shows stream management on s2s" "$log" \
    'Enabling stream management'
}

only=${ONLY:-}
# 1. STARTTLS required, certificates untrusted on both sides: dialback.
[ -z "$only" ] || [ "$only" = dialback ] && scenario dialback dialback "$certs/unknown-ca.pem" \
  --secure-auth no --cafile "$certs/unknown-ca.pem"
# 2. STARTTLS required, certificates trusted and required: SASL EXTERNAL.
[ -z "$only" ] || [ "$only" = certs ] && scenario certs sasl-external "$certs/ca.pem" --secure-auth yes
# 3. The same with Prosody's mod_smacks: XEP-0198 acknowledgements both
# ways.
[ -z "$only" ] || [ "$only" = sm ] && scenario sm sasl-external "$certs/ca.pem" --secure-auth yes \
  --module smacks

echo "passed $passed, failed $failed"
[ "$failed" -eq 0 ]
