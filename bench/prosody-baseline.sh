#!/bin/bash
# Prosody-to-Prosody reference figures on this machine: two Prosody
# instances on loopback (a.test on 127.0.0.61, b.test on 127.0.0.62), names
# from hosts files, certificates from tests/data/make-certs.sh.
#
#   bench/prosody-baseline.sh [--messages N] [--runs N] [--rounds N]
#                             [--links N] [--certs DIR]
#
# (a) throughput: N messages of about 200 bytes from a.test to sink@b.test
#     over one established STARTTLS link (SASL EXTERNAL), counted on
#     arrival; stanzas/s from the first send to the last arrival, the CPU
#     time each side spent per stanza, and the rate one CPU would sustain
#     for the busier side (less sensitive to other load on the machine).
# (b) cold connection: ROUNDS times, close every S2S stream, then send a
#     message and a ping from a.test to b.test; the time until the message
#     arrives at b.test and until the pong is back at a.test (the pong needs
#     the stream b.test -> a.test too). Once with STARTTLS + dialback (the
#     peers' certificates are not trusted), once with STARTTLS + certificates
#     (s2s_secure_auth, SASL EXTERNAL); both again with Nagle's algorithm
#     off (Prosody's default is on). Median and p99 (nearest rank).
# (c) memory: resident memory of each process before and after LINKS
#     streams s1.w.test ... sN.w.test -> b.test, per stream.
#
# Every wait is bounded; the instances and the temporary directory are
# removed on exit, also on failure or interruption. Needs root and the
# Debian packages prosody, lua-unbound, gnutls-bin, python3.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/interop/prosody-fixture.sh"

messages=50000 runs=3 rounds=100 links=100 certs=''
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
  case $1 in
    --messages) messages=$2 ;;
    --runs) runs=$2 ;;
    --rounds) rounds=$2 ;;
    --links) links=$2 ;;
    --certs) certs=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done

pf_require || exit 1
command -v python3 >/dev/null 2>&1 ||
  { echo "python3 not found: install the Debian package python3" >&2; exit 1; }

addr_a=127.0.0.61
addr_b=127.0.0.62
root=$(mktemp -d)
chmod 755 "$root"
export PF_CLEANUP_DIR=$root
trap 'pf_stop_all; rm -rf "$root"' EXIT
trap 'exit 1' INT TERM

if [ -z "$certs" ]; then
  certs=$root/certs
  sh "$top/tests/data/make-certs.sh" "$certs" || exit 1
fi

die() { echo "prosody-baseline: $*" >&2; exit 1; }

# pair NAME OPTIONS...: a.test and b.test with OPTIONS, previous pair stopped.
pair() {
  local name=$1
  shift
  pf_stop_all
  pf_start "$root/$name/a" --addr $addr_a --domain a.test \
      --peer b.test=$addr_b --certs "$certs" --log-level warn "$@" &&
    pf_start "$root/$name/b" --addr $addr_b --domain b.test \
      --peer a.test=$addr_a --certs "$certs" --log-level warn "$@" ||
    die "could not start the $name pair"
}

field() { # field NAME TEXT: the value of NAME=VALUE in TEXT
  printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

version=$(prosodyctl about 2>/dev/null | sed -n 's/^Prosody \([0-9.]*\).*/\1/p')
echo "Prosody ${version:-?} reference, $(date -u '+%Y-%m-%d'), $(nproc) CPUs," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"

# (a) Throughput over one established link.
pair throughput --require-encryption yes --secure-auth yes
a=$root/throughput/a b=$root/throughput/b
pf_shell "$a" "xmpp:ping('a.test', 'b.test', 30)" >/dev/null ||
  die "no link between a.test and b.test"
link=$(pf_call "$a" 'link("a.test", "b.test")')
pf_call "$a" 'send("a.test", "b.test", 2000, 200)' >/dev/null &&
  pf_call "$b" 'wait("b.test", 2000, 60)' >/dev/null || die "warm-up failed"
rates=() capacities=()
for run in $(seq "$runs"); do
  pf_call "$b" 'reset("b.test")' >/dev/null
  cpu_a0=$(field cpu "$(pf_call "$a" 'cpu()')")
  cpu_b0=$(field cpu "$(pf_call "$b" 'cpu()')")
  sent=$(pf_call "$a" "send(\"a.test\", \"b.test\", $messages, 200)") ||
    die "sending failed"
  got=$(pf_call "$b" "wait(\"b.test\", $messages, 300)") || die "receiving failed: $got"
  cpu_a1=$(field cpu "$(pf_call "$a" 'cpu()')")
  cpu_b1=$(field cpu "$(pf_call "$b" 'cpu()')")
  line=$(python3 - "$messages" "$(field start "$sent")" "$(field last "$got")" \
      "$cpu_a0" "$cpu_a1" "$cpu_b0" "$cpu_b1" <<'PY'
import sys
n, start, last, a0, a1, b0, b1 = (float(x) for x in sys.argv[1:])
a, b = (a1 - a0) / n * 1e6, (b1 - b0) / n * 1e6
print(f"{n / (last - start):.0f} {a:.1f} {b:.1f} {1e6 / max(a, b):.0f}")
PY
  )
  read -r rate us_a us_b capacity <<<"$line"
  rates+=("$rate")
  capacities+=("$capacity")
  echo "throughput run $run: $rate stanzas/s ($messages messages of" \
    "$(field bytes "$sent") bytes, $link); CPU per stanza: sender $us_a us," \
    "receiver $us_b us; CPU-bound: $capacity stanzas/s"
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
echo "throughput median of $runs runs: $(median "${rates[@]}") stanzas/s" \
  "(CPU-bound: $(median "${capacities[@]}") stanzas/s per CPU of the busier side)"

# (b) Cold connections.
cold() {
  local name=$1 title=$2
  shift 2
  pair "$name" "$@"
  local a=$root/$name/a b=$root/$name/b out
  out=$(pf_call "$a" "cold(\"a.test\", \"b.test\", $rounds, 0.05, 30)") ||
    die "$title: cold rounds failed: $out"
  pf_call "$a" 'samples()' >"$root/$name.sent"
  pf_call "$b" 'arrivals("b.test")' >"$root/$name.arrived"
  python3 - "$title" "$out" "$root/$name.sent" "$root/$name.arrived" <<'PY'
import math, sys
title, summary, sent_path, arrived_path = sys.argv[1:]
sent = {}
for line in open(sent_path):
    parts = line.split()
    if len(parts) == 3:
        sent[parts[0]] = (float(parts[1]), float(parts[2]))
arrived = {}
for line in open(arrived_path):
    parts = line.split()
    if len(parts) == 2:
        arrived[parts[0]] = float(parts[1])

def stats(values):
    values = sorted(values)
    rank = lambda p: values[max(0, math.ceil(p * len(values)) - 1)]
    return (f"median {rank(0.5) * 1000:.1f} ms, p99 {rank(0.99) * 1000:.1f} ms, "
            f"min {values[0] * 1000:.1f} ms, max {values[-1] * 1000:.1f} ms")

delivered = [arrived[i] - s for i, (s, _) in sent.items() if i in arrived]
answered = [a - s for s, a in sent.values()]
if not delivered or not answered:
    sys.exit(f"{title}: no samples ({summary})")
print(f"cold connection, {title} ({summary}):")
print(f"  first message delivered ({len(delivered)}): {stats(delivered)}")
print(f"  ping answered ({len(answered)}):           {stats(answered)}")
PY
}
cold dialback "STARTTLS + dialback" --require-encryption yes \
  --secure-auth no --cafile "$certs/unknown-ca.pem" || exit 1
cold certs "STARTTLS + certificates" --require-encryption yes \
  --secure-auth yes || exit 1
# Prosody leaves Nagle's algorithm on by default; the same with it off shows
# what the small writes of a handshake cost in delayed ACKs.
nodelay='network_settings = { nagle = false }'
cold dialback-nodelay "STARTTLS + dialback, TCP_NODELAY" \
  --require-encryption yes --secure-auth no --cafile "$certs/unknown-ca.pem" \
  --option "$nodelay" || exit 1
cold certs-nodelay "STARTTLS + certificates, TCP_NODELAY" \
  --require-encryption yes --secure-auth yes --option "$nodelay" || exit 1

# (c) Memory per link: LINKS outgoing streams from as many hosts of one
# instance to b.test, certificates (no dialback streams back).
pf_stop_all
hosts=() peers=()
for i in $(seq "$links"); do
  hosts+=(--domain "s$i.w.test=w.test")
  peers+=(--peer "s$i.w.test=$addr_a")
done
pf_start "$root/memory/a" --addr $addr_a "${hosts[@]}" --peer b.test=$addr_b \
    --certs "$certs" --log-level warn --secure-auth yes &&
  pf_start "$root/memory/b" --addr $addr_b --domain b.test "${peers[@]}" \
    --certs "$certs" --log-level warn --secure-auth yes ||
  die "could not start the memory pair"
a=$root/memory/a b=$root/memory/b
# One stream first, so that code paths and caches are warm in both.
pf_shell "$a" "xmpp:ping('s1.w.test', 'b.test', 30)" >/dev/null || die "no link"
pf_call "$b" 'reset("b.test")' >/dev/null
mem_a0=$(pf_call "$a" 'memory()') mem_b0=$(pf_call "$b" 'memory()')
pf_shell "$a" "> for i = 2, $links do prosody.xs2s_fixture.send('s'..i..'.w.test', 'b.test', 1, 200) end" \
  >/dev/null || die "sending failed"
pf_call "$b" "wait(\"b.test\", $((links - 1)), 120)" >/dev/null || die "not every link came up"
sess_a=$(pf_call "$a" 'sessions()') sess_b=$(pf_call "$b" 'sessions()')
mem_a1=$(pf_call "$a" 'memory()') mem_b1=$(pf_call "$b" 'memory()')
python3 - "$((links - 1))" "$mem_a0" "$mem_a1" "$mem_b0" "$mem_b1" \
    "$sess_a" "$sess_b" <<'PY'
import sys
k = int(sys.argv[1])
def parse(text):
    return dict((kv.split("=") for kv in text.split()))
a0, a1, b0, b1 = (parse(t) for t in sys.argv[2:6])
def per(before, after, key):
    return (int(after[key]) - int(before[key])) / k
print(f"memory per S2S stream ({k} new streams, STARTTLS + certificates; "
      f"a: {sys.argv[6]}; b: {sys.argv[7]}):")
print(f"  initiating side: {per(a0, a1, 'rss'):.0f} KiB RSS, "
      f"{per(a0, a1, 'lua'):.0f} KiB Lua heap "
      f"(RSS {a0['rss']} -> {a1['rss']} KiB)")
print(f"  receiving side:  {per(b0, b1, 'rss'):.0f} KiB RSS, "
      f"{per(b0, b1, 'lua'):.0f} KiB Lua heap "
      f"(RSS {b0['rss']} -> {b1['rss']} KiB)")
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
