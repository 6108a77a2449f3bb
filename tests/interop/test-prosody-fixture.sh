#!/bin/bash
# Proves the Prosody fixture: two instances (a.test on 127.0.0.51, b.test on
# 127.0.0.52) federate over loopback with names from their hosts files, in
# the configurations the xs2s interop tests need (STARTTLS + dialback,
# STARTTLS + certificates, untrusted certificates, clear text, an SRV record
# from a knot server on 127.0.0.59:5300), and the fixture's sink counts
# messages sent over the link.
#
#   test-prosody-fixture.sh CERTS_DIR
set -u
certs=${1:?usage: test-prosody-fixture.sh CERTS_DIR}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/prosody-fixture.sh"
pf_require || exit 1
[ -f "$certs/a.test.pem" ] || { echo "no certificates in $certs" >&2; exit 1; }

addr_a=127.0.0.51
addr_b=127.0.0.52
root=$(mktemp -d)
chmod 755 "$root"
export PF_CLEANUP_DIR=$root
trap 'pf_stop_all; rm -rf "$root"' EXIT
trap 'exit 1' INT TERM

. "$here/checks.sh"

# pair NAME OPTIONS...: starts a.test and b.test with the same OPTIONS in
# $root/NAME; the previous pair is stopped first.
pair() {
  local name=$1
  shift
  pf_stop_all
  pf_start "$root/$name/a" --addr $addr_a --domain a.test \
      --peer b.test=$addr_b --certs "$certs" --s2s-timeout 20 "$@" &&
    pf_start "$root/$name/b" --addr $addr_b --domain b.test \
      --peer a.test=$addr_a --certs "$certs" --s2s-timeout 20 "$@"
}

# 1. STARTTLS required, the peers' certificates not trusted: dialback.
if pair dialback --require-encryption yes --secure-auth no \
    --cafile "$certs/unknown-ca.pem"; then
  ok "dialback: both instances started"
  out=$(pf_shell "$root/dialback/a" "xmpp:ping('a.test', 'b.test', 20)" 2>&1)
  check "dialback: pong from b.test" "$out" '^Result: pong from b\.test'
  out=$(pf_shell "$root/dialback/a" "s2s:show('b.test')" 2>&1)
  check "dialback: a.test --> b.test is TLS with dialback" "$out" \
    '\| a\.test +\| --> +\| b\.test +\| IPv4 +\| TLSv1\.[23] +\|.*\| Completed'
  # The console's Dialback column is filled on the initiating side only.
  out=$(pf_shell "$root/dialback/b" "s2s:show('a.test')" 2>&1)
  check "dialback: b.test <-- a.test is TLS without SASL" "$out" \
    '\| b\.test +\| <-- +\| a\.test +\| IPv4 +\| TLSv1\.[23] +\| +\|'
  out=$(pf_call "$root/dialback/a" 'link("a.test", "b.test")' 2>&1)
  check "dialback: fixture reports a.test --> b.test tls=yes auth=dialback" \
    "$out" '^tls=yes auth=dialback$'
  out=$(pf_call "$root/dialback/b" 'link("b.test", "a.test", "in")' 2>&1)
  check "dialback: fixture reports b.test <-- a.test tls=yes auth=dialback" \
    "$out" '^tls=yes auth=dialback$'
else
  fail "dialback: both instances started"
fi

# 2. STARTTLS required, certificates required (SASL EXTERNAL).
if pair certs --require-encryption yes --secure-auth yes; then
  ok "certs: both instances started"
  out=$(pf_shell "$root/certs/a" "xmpp:ping('a.test', 'b.test', 20)" 2>&1)
  check "certs: pong from b.test" "$out" '^Result: pong from b\.test'
  out=$(pf_shell "$root/certs/a" "s2s:show('b.test')" 2>&1)
  check "certs: a.test --> b.test is TLS with SASL EXTERNAL" "$out" \
    '\| a\.test +\| --> +\| b\.test +\| IPv4 +\| TLSv1\.[23] +\| Succeeded +\| Not used'
  out=$(pf_shell "$root/certs/b" "s2s:show('a.test')" 2>&1)
  check "certs: b.test <-- a.test is TLS with SASL EXTERNAL" "$out" \
    '\| b\.test +\| <-- +\| a\.test +\| IPv4 +\| TLSv1\.[23] +\| Succeeded +\| Not used'
  out=$(pf_call "$root/certs/a" 'link("a.test", "b.test")' 2>&1)
  check "certs: fixture reports a.test --> b.test tls=yes auth=cert" "$out" \
    '^tls=yes auth=cert$'
  out=$(pf_call "$root/certs/b" 'link("b.test", "a.test", "in")' 2>&1)
  check "certs: fixture reports b.test <-- a.test tls=yes auth=cert" "$out" \
    '^tls=yes auth=cert$'

  # The sink counts what crosses the established link.
  pf_call "$root/certs/b" 'reset("b.test")' >/dev/null
  out=$(pf_call "$root/certs/a" 'send("a.test", "b.test", 500, 200)' 2>&1)
  check "certs: 500 messages handed to the stream" "$out" '^sent=500 bytes=2[0-9][0-9] '
  out=$(pf_call "$root/certs/b" 'wait("b.test", 500, 60)' 2>&1)
  check "certs: the sink on b.test counted 500 messages" "$out" '^count=500 '
  # Any stanza can be sent; the sink keeps the last message (full JID too).
  out=$(pf_call "$root/certs/a" "post(\"<message from='bench@a.test' to='sink@b.test/r' id='p1'><body>hello b</body></message>\")" 2>&1)
  check "certs: post sends a stanza given as XML" "$out" '^posted$'
  pf_call "$root/certs/b" 'wait("b.test", 501, 30)' >/dev/null
  out=$(pf_call "$root/certs/b" 'last("b.test")' 2>&1)
  check "certs: the sink on b.test kept the posted message" "$out" \
    "^<message .*id='p1'.*<body>hello b</body></message>\$"
  if pf_call "$root/certs/a" 'post("<message from=\"x@elsewhere.test\" to=\"sink@b.test\"/>")' >/dev/null 2>&1; then
    fail "certs: post refuses a from that is not local"
  else
    ok "certs: post refuses a from that is not local"
  fi
  out=$(pf_call "$root/certs/a" 'closeall(0)' 2>&1)
  check "certs: closeall closes every stream" "$out" '^closed$'
  out=$(pf_call "$root/certs/b" 'sessions()' 2>&1)
  check "certs: b.test has no stream left" "$out" '^none$'
else
  fail "certs: both instances started"
fi

# 3. Certificates required but not trusted: no link, the ping fails.
if pair untrusted --require-encryption yes --secure-auth yes \
    --cafile "$certs/unknown-ca.pem"; then
  ok "untrusted: both instances started"
  if out=$(pf_shell "$root/untrusted/a" "xmpp:ping('a.test', 'b.test', 10)" 2>&1); then
    fail "untrusted: ping fails"
    printf '%s\n' "$out" | sed 's/^/  /'
  else
    ok "untrusted: ping fails"
  fi
  out=$(pf_call "$root/untrusted/a" 'link("a.test", "b.test")' 2>&1)
  check "untrusted: no established link" "$out" '^none$'
else
  fail "untrusted: both instances started"
fi

# 4. No TLS at all: clear-text dialback; c2s open for a registered user.
if pair plain --tls no --require-encryption no --secure-auth no \
    --c2s-port 5222; then
  ok "plain: both instances started"
  if pf_listening $addr_a 5222; then ok "plain: c2s port open"; else fail "plain: c2s port open"; fi
  pf_register "$root/plain/a" alice a.test secret >/dev/null 2>&1
  out=$(pf_shell "$root/plain/a" "user:list('a.test')" 2>&1)
  check "plain: registered user alice@a.test" "$out" '^alice@a\.test$'

  out=$(pf_shell "$root/plain/a" "xmpp:ping('a.test', 'b.test', 20)" 2>&1)
  check "plain: pong from b.test" "$out" '^Result: pong from b\.test'
  out=$(pf_call "$root/plain/a" 'link("a.test", "b.test")' 2>&1)
  check "plain: fixture reports a.test --> b.test tls=no auth=dialback" "$out" \
    '^tls=no auth=dialback$'
  out=$(pf_call "$root/plain/b" 'link("b.test", "a.test", "in")' 2>&1)
  check "plain: fixture reports b.test <-- a.test tls=no auth=dialback" "$out" \
    '^tls=no auth=dialback$'
else
  fail "plain: both instances started"
fi

# 5. Names from a DNS server: knot serves an SRV record that sends a.test to
# b.test's instance on port 5270.
trap 'pf_knot_stop; pf_stop_all; rm -rf "$root"' EXIT
pf_knot_start "$root/knot" 127.0.0.59@5300 \
  "_xmpp-server._tcp.b SRV 0 0 5270 host-b.test." "host-b A $addr_b" || exit 1
pf_stop_all
if pf_start "$root/srv/a" --addr $addr_a --domain a.test \
      --dns 127.0.0.59@5300 --certs "$certs" --secure-auth yes &&
    pf_start "$root/srv/b" --addr $addr_b --s2s-port 5270 --domain b.test \
      --peer a.test=$addr_a --certs "$certs" --secure-auth yes; then
  ok "srv: both instances started"
  out=$(pf_shell "$root/srv/a" "xmpp:ping('a.test', 'b.test', 20)" 2>&1)
  check "srv: pong from b.test on port 5270" "$out" '^Result: pong from b\.test'
  out=$(pf_call "$root/srv/a" 'link("a.test", "b.test")' 2>&1)
  check "srv: fixture reports a.test --> b.test tls=yes auth=cert" "$out" \
    '^tls=yes auth=cert$'
else
  fail "srv: both instances started"
fi
pf_knot_stop
trap 'pf_stop_all; rm -rf "$root"' EXIT

# 6. The fixture refuses an address that is taken.
if pf_start "$root/taken" --addr $addr_a --domain c.test 2>/dev/null; then
  fail "a second instance on a taken address is refused"
else
  ok "a second instance on a taken address is refused"
fi

pf_stop_all
left=$(pgrep -u prosody -f "$root" || true)
if [ -z "$left" ]; then
  ok "every instance stopped"
else
  fail "every instance stopped (still running: $left)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
