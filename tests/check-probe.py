#!/usr/bin/env python3
"""xs2s-probe --resolve-only on libunbound local data: the JSON object has
the documented shape and says what the records say; the table names the
source and the hosts in order.

usage: check-probe.py PROBE RESOLVER-CONF
"""
import json
import subprocess
import sys

PROBE, CONF = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def probe(*args, want_exit=0):
    cmd = [PROBE, "--resolve-only", "--resolver-conf", CONF] + list(args)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(run.returncode == want_exit,
          f"{' '.join(args)}: exit {run.returncode}, expected {want_exit}"
          f" (stderr: {run.stderr.strip()})")
    return run.stdout


def probe_json(*args, want_exit=0):
    out = probe("--json", *args, want_exit=want_exit)
    try:
        return json.loads(out)
    except ValueError:
        check(False, f"{' '.join(args)}: not JSON: {out!r}")
        return {}


CANDIDATE_KEYS = {"host": str, "port": int, "priority": int, "weight": int,
                  "tls": str, "dnssec": str, "addresses": list}


def check_shape(obj, domain):
    check(obj.get("domain") == domain, f"{domain}: domain is {obj.get('domain')}")
    for c in obj.get("candidates", []):
        for key, kind in CANDIDATE_KEYS.items():
            check(isinstance(c.get(key), kind), f"{domain}: candidate {key}")
        check(c.get("tls") in ("starttls", "direct"), f"{domain}: tls value")
        check(c.get("dnssec") in ("secure", "insecure", "bogus"),
              f"{domain}: dnssec value")


# SRV: priority 5 first, then the four at 20.
g = probe_json("google.example")
check_shape(g, "google.example")
check(g.get("source") == "srv", "google: source srv")
cands = g.get("candidates", [])
check(len(cands) == 5, "google: five candidates")
if len(cands) == 5:
    check(cands[0]["host"] == "xmpp-server.l.google.example", "google: first")
    check(cands[0]["priority"] == 5, "google: first priority 5")
    check(cands[0]["addresses"] == ["2001:db8::5", "192.0.2.5"],
          "google: IPv6 first")
    check([c["priority"] for c in cands[1:]] == [20] * 4, "google: then 20s")
    check(sorted(c["host"] for c in cands[1:]) ==
          [f"alt{i}.xmpp-server.l.google.example" for i in range(1, 5)],
          "google: the four alternates")

# The same seed gives the same order.
check(probe("--json", "--seed", "7", "google.example") ==
      probe("--json", "--seed", "7", "google.example"), "seeded order stable")

# XEP-0368 merge.
m = probe_json("merged.example")
check_shape(m, "merged.example")
check([(c["host"], c["port"], c["tls"]) for c in m.get("candidates", [])] ==
      [("tls.merged.example", 5223, "direct"),
       ("xmpp.merged.example", 5269, "starttls"),
       ("tls443.merged.example", 443, "direct")], "merged: order and tls")

# Fallback.
f = probe_json("plain.example")
check_shape(f, "plain.example")
check(f.get("source") == "fallback", "plain: source fallback")
check([(c["host"], c["port"], c["addresses"]) for c in f.get("candidates", [])]
      == [("plain.example", 5269, ["2001:db8::80", "192.0.2.80"])],
      "plain: the domain on 5269")

# "." : an error object, exit 3 (name resolution error).
n = probe_json("noservice.example", want_exit=3)
check(n.get("domain") == "noservice.example", "noservice: domain")
check(n.get("error") == "remote-server-not-found", "noservice: condition")
check(n.get("code") == "XS2S_ERR_DNS_NO_SERVICE", "noservice: code")
check(not n.get("candidates"), "noservice: no candidates")

x = probe_json("nx.example", want_exit=3)
check(x.get("error") == "remote-server-not-found", "nx: condition")
check(x.get("code") == "XS2S_ERR_DNS_NXDOMAIN", "nx: code")

# Static routes override DNS.
s = probe_json("--route", "192.0.2.200:5270", "--route-tls",
               "relay.routes.example", "routed.example")
check_shape(s, "routed.example")
check(s.get("source") == "static", "routed: source static")
check(sorted((c["host"], c["port"], c["tls"]) for c in s.get("candidates", []))
      == [("192.0.2.200", 5270, "starttls"),
          ("relay.routes.example", 5269, "direct")], "routed: the routes")

# The table.
text = probe("--seed", "1", "google.example")
check("SRV records" in text, "table: source named")
check("xmpp-server.l.google.example" in text.split("\n", 5)[-1],
      "table: hosts listed")
lines = [line for line in text.splitlines() if line.strip().startswith("1 ")]
check(len(lines) == 1 and "xmpp-server.l.google.example" in lines[0]
      and "5269" in lines[0], "table: row 1 is the priority-5 record")

# Usage errors: exit 3.
probe("google.example", "extra", want_exit=3)

# Without --resolve-only a failed resolution ends the probe before any
# connection: exit 3 and the resolver's error.
run = subprocess.run([PROBE, "--json", "--resolver-conf", CONF,
                      "noservice.example"], capture_output=True, text=True,
                     timeout=60)
check(run.returncode == 3, f"full probe, no service: exit {run.returncode}")
try:
    full = json.loads(run.stdout)
except ValueError:
    full = {}
check(full.get("verdict") == "resolution-failed"
      and full.get("code") == "XS2S_ERR_DNS_NO_SERVICE"
      and full.get("candidates") == [], "full probe, no service: JSON")

print(f"probe checks done, {len(failures)} failed")
sys.exit(1 if failures else 0)
