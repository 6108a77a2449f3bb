#!/bin/bash
# DNSSEC test bed: Knot DNS serves, on a loopback address of its own, a
# zone it signs (secure.test, with a trust anchor made from its key), a
# child of it whose DS is wrong (its TLSA answers are bogus), an unsigned
# zone (insecure.test) and a signed zone whose trust anchor does not match
# (bogus.test). libunbound reaches it through stub zones; "." static keeps
# every other query on the machine. Then it runs the resolver test and the
# probe against it.
#
# usage: dnssec-knot.sh TEST-PROGRAM PROBE ZONE-DIR
set -eu
test_program=$1
probe=$2
zones=$3

for tool in knotd knotc keymgr; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool not found: install the Debian package 'knot'" >&2
    exit 1
  fi
done

work=$(mktemp -d /tmp/xs2s-dnssec-XXXXXX)
knot_pid=
cleanup() {
  if [ -n "$knot_pid" ]; then
    kill "$knot_pid" 2>/dev/null || true
    wait "$knot_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A loopback address of our own, so parallel runs do not collide.
addr=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
port=53053

mkdir -p "$work/db" "$work/run"
cp "$zones"/*.zone "$work/"
cat > "$work/knot.conf" <<KNOT
server:
    rundir: "$work/run"
    listen: $addr@$port
log:
  - target: "$work/knot.log"
    any: info
database:
    storage: "$work/db"
policy:
  - id: test
    algorithm: ecdsap256sha256
    nsec3: off
template:
  - id: default
    storage: "$work"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: secure.test
    file: secure.test.zone
    dnssec-signing: on
    dnssec-policy: test
  - domain: _tcp.xmpp.danebad.secure.test
    file: danebad.test.zone
    dnssec-signing: on
    dnssec-policy: test
  - domain: insecure.test
    file: insecure.test.zone
  - domain: bogus.test
    file: bogus.test.zone
    dnssec-signing: on
    dnssec-policy: test
KNOT

knotd -c "$work/knot.conf" >"$work/knotd.out" 2>&1 &
knot_pid=$!

# Wait until the signed zones are loaded and signed (their DNSKEYs are in).
signed() {
  knotc -c "$work/knot.conf" zone-read "$1" @ DNSKEY 2>/dev/null |
    grep -q DNSKEY
}
for _ in $(seq 1 100); do
  if signed secure.test && signed bogus.test &&
     signed _tcp.xmpp.danebad.secure.test &&
     knotc -c "$work/knot.conf" zone-read insecure.test @ SOA 2>/dev/null |
       grep -q SOA; then
    break
  fi
  if ! kill -0 "$knot_pid" 2>/dev/null; then
    echo "knotd exited:" >&2
    cat "$work/knotd.out" "$work/knot.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.1
done
signed secure.test || { echo "knotd did not sign the zones" >&2;
                        cat "$work/knot.log" >&2; exit 1; }

# The right anchor for secure.test, a tampered one for bogus.test.
ds() { keymgr -c "$work/knot.conf" "$1" ds | awk '$4 == 13 && $5 == 2'; }
good=$(ds secure.test)
real=$(ds bogus.test)
[ -n "$good" ] && [ -n "$real" ] || { echo "keymgr gave no DS" >&2; exit 1; }
last=${real: -1}
if [ "$last" = 0 ]; then flip=1; else flip=0; fi
bad="${real%?}$flip"

cat > "$work/unbound.conf" <<UB
server:
  do-not-query-localhost: no
  local-zone: "." static
  local-zone: "secure.test." transparent
  local-zone: "insecure.test." transparent
  local-zone: "bogus.test." transparent
  trust-anchor: "$good"
  trust-anchor: "$bad"
stub-zone:
  name: "secure.test."
  stub-addr: $addr@$port
stub-zone:
  name: "insecure.test."
  stub-addr: $addr@$port
stub-zone:
  name: "bogus.test."
  stub-addr: $addr@$port
UB

status=0
"$test_program" "$work/unbound.conf" || status=1

# The probe shows the DNSSEC status and the TLSA records.
json=$("$probe" --resolve-only --json --resolver-conf "$work/unbound.conf" \
       secure.test) || { echo "probe failed on secure.test" >&2; status=1; }
python3 - "$json" <<'PY' || status=1
import json, sys
obj = json.loads(sys.argv[1])
starttls = [c for c in obj["candidates"] if c["tls"] == "starttls"][0]
assert obj["source"] == "srv", obj
assert starttls["dnssec"] == "secure", starttls
assert starttls["tlsa"]["dnssec"] == "secure", starttls
assert starttls["tlsa"]["records"][0]["usage"] == 3, starttls
print("probe: secure.test candidates are secure with their TLSA record")
PY
json=$("$probe" --resolve-only --json --resolver-conf "$work/unbound.conf" \
       bogus.test) && { echo "probe succeeded on bogus.test" >&2; status=1; }
python3 - "$json" <<'PY' || status=1
import json, sys
obj = json.loads(sys.argv[1])
assert obj["error"] == "remote-server-not-found", obj
assert obj["code"] == "XS2S_ERR_DNSSEC_BOGUS", obj
assert obj.get("why_bogus"), obj
print("probe: bogus.test is refused as bogus")
PY
exit $status
