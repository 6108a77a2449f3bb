#!/bin/bash
# xs2s sending to Prosody on this machine: the engine (bench_relay's a.test
# on 127.77.0.1) against one Prosody instance (b.test on 127.0.0.63, the
# fixture of tests/interop), STARTTLS + certificates (SASL EXTERNAL).
#
#   bench/xs2s-prosody.sh BENCH_RELAY CERTS_DIR [--messages N] [--rounds N]
#
# (a) throughput: N messages of 185 bytes to sink@b.test over one
#     established stream; stanzas/s from the first send (xs2s's clock) to
#     the last arrival in Prosody's sink (Prosody's clock; both
#     CLOCK_REALTIME on this machine).
# (b) cold connection: ROUNDS fresh engines each send one message; the time
#     from xs2s_ctx_send() to its arrival in Prosody's sink, median and
#     p99; with Prosody's default settings and again with nagle = false.
#
# Needs root and the Debian packages prosody, lua-unbound, python3.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/interop/prosody-fixture.sh"

relay=${1:?usage: xs2s-prosody.sh BENCH_RELAY CERTS_DIR [options]}
certs=${2:?usage: xs2s-prosody.sh BENCH_RELAY CERTS_DIR [options]}
shift 2
messages=50000 rounds=100
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
  case $1 in
    --messages) messages=$2 ;;
    --rounds) rounds=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
pf_require || exit 1

addr_b=127.0.0.63
root=$(mktemp -d)
chmod 755 "$root"
export PF_CLEANUP_DIR=$root
pid=''
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; pf_stop_all; rm -rf "$root"' EXIT
trap 'exit 1' INT TERM
die() { echo "xs2s-prosody: $*" >&2; exit 1; }
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

start_b() { # start_b NAME OPTIONS...
  local name=$1
  shift
  pf_stop_all
  pf_start "$root/$name" --addr $addr_b --domain b.test \
    --peer a.test=127.77.0.1 --certs "$certs" --log-level warn \
    --require-encryption yes --secure-auth yes "$@" ||
    die "could not start Prosody ($name)"
}

echo "xs2s -> Prosody $(prosodyctl about 2>/dev/null | sed -n 's/^Prosody \([0-9.]*\).*/\1/p'), $(date -u '+%Y-%m-%d'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# (a) Throughput.
start_b throughput
b=$root/throughput
pf_call "$b" 'reset("b.test")' >/dev/null
"$relay" "$certs" --prosody $addr_b throughput "$messages" >"$root/tp.out" &
pid=$!
got=$(pf_call "$b" "wait(\"b.test\", $((messages + 1)), 300)") ||
  die "Prosody did not receive everything: $got"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=''
start=$(sed -n 's/^send-start //p' "$root/tp.out")
last=$(field last "$got")
python3 -c "import sys; n,s,l=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); print(f'throughput xs2s -> Prosody: {n/(l-s):.0f} stanzas/s ({n} messages, STARTTLS + certificates)')" \
  "$messages" "$start" "$last"

# (b) Cold connections.
cold() { # cold NAME TITLE OPTIONS...
  local name=$1 title=$2
  shift 2
  start_b "$name" "$@"
  "$relay" "$certs" --prosody $addr_b cold "$rounds" >"$root/$name.sent" ||
    die "cold rounds failed"
  sleep 1
  pf_call "$root/$name" 'arrivals("b.test")' >"$root/$name.arrived"
  python3 - "$root/$name.sent" "$root/$name.arrived" "$title" <<'PY'
import sys
sent = dict(l.split() for l in open(sys.argv[1]) if l.startswith("cold"))
got = dict(l.split() for l in open(sys.argv[2]) if l.startswith("cold"))
lat = sorted((float(got[k]) - float(v)) * 1000 for k, v in sent.items() if k in got)
n = len(lat)
if not n:
    print(f"cold xs2s -> Prosody, {sys.argv[3]}: nothing arrived")
else:
    p99 = lat[min(n - 1, (n * 99 + 99) // 100 - 1)]
    print(f"cold xs2s -> Prosody, {sys.argv[3]}: {n}/{len(sent)} delivered; "
          f"median {lat[n // 2]:.1f} ms, p99 {p99:.1f} ms, min {lat[0]:.1f} ms")
PY
}
cold certs "STARTTLS + certificates"
cold certs-nodelay "STARTTLS + certificates, nagle = false" \
  --option 'network_settings = { nagle = false }'

# (c) Prosody sending to xs2s: a.test is Prosody on 127.0.0.64, b.test the
#     engine on 127.77.0.2; from Prosody's first send to the engine's
#     callback for the last message.
pf_stop_all
pf_start "$root/sender" --addr 127.0.0.64 --domain a.test \
  --peer b.test=127.77.0.2 --certs "$certs" --log-level warn \
  --require-encryption yes --secure-auth yes || die "could not start Prosody (sender)"
a=$root/sender
"$relay" "$certs" --prosody 127.0.0.64 serve $((messages + 2000)) >"$root/serve.out" &
pid=$!
for _ in $(seq 50); do grep -q listening "$root/serve.out" && break; sleep 0.1; done
pf_call "$a" 'send("a.test", "b.test", 2000, 200)' >/dev/null || die "warm-up failed"
sleep 2
sent=$(pf_call "$a" "send(\"a.test\", \"b.test\", $messages, 200)") || die "sending failed"
wait "$pid"
pid=''
start=$(field start "$sent")
last=$(sed -n 's/^last-arrival \([0-9.]*\).*/\1/p' "$root/serve.out")
n=$(sed -n 's/.* count \([0-9]*\)$/\1/p' "$root/serve.out")
[ "$n" = $((messages + 2000)) ] || die "the engine counted $n of $((messages + 2000))"
python3 -c "import sys; n,s,l=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); print(f'throughput Prosody -> xs2s: {n/(l-s):.0f} stanzas/s ({n} messages of 209 bytes, STARTTLS + certificates)')" \
  "$messages" "$start" "$last"
