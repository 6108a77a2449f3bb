#!/usr/bin/env python3
"""xs2s-probe against a real Prosody (started with prosody-fixture.sh on
127.0.0.71): STARTTLS and XEP-0368 direct TLS to a host with a valid
certificate, a host whose certificate names another domain, a host with a
self-signed certificate, and a Prosody without TLS. Checks the probe's JSON
and exit status.

usage: check-probe-prosody.py PROBE CERTS_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

PROBE, CERTS = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "prosody-fixture.sh")
ADDR = "127.0.0.71"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def fixture(*args):
    env = dict(os.environ, PF_OWNER_PID=str(os.getpid()))
    run = subprocess.run(["bash", FIXTURE] + list(args), env=env,
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        print(run.stdout, run.stderr, file=sys.stderr)
        raise SystemExit(f"prosody-fixture.sh {args[0]} failed")


def probe(domain, *routes, want_exit):
    cmd = [PROBE, "--json", "--timeout", "10000", "--ca",
           os.path.join(CERTS, "ca.pem")] + list(routes) + [domain]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    check(run.returncode == want_exit,
          f"{domain}: exit {run.returncode}, expected {want_exit}"
          f" (stderr: {run.stderr.strip()})")
    try:
        return json.loads(run.stdout)
    except ValueError:
        check(False, f"{domain}: not JSON: {run.stdout!r}")
        return {"candidates": []}


def starttls(domain):
    return ["--route", f"{domain}={ADDR}:5269"]


def by_mode(obj):
    return {c.get("tls"): c for c in obj.get("candidates", [])}


root = tempfile.mkdtemp()
os.chmod(root, 0o755)  # the user prosody must reach the instance
inst = os.path.join(root, "p")
try:
    # One instance, three hosts: a.test with its own certificate (also on
    # a direct-TLS port), c.test with b.test's certificate, self.test with
    # a self-signed one. The direct-TLS port takes a.test's certificate
    # explicitly (Prosody 0.12 finds no key for SNI in the fixture's
    # layout).
    fixture("start", inst, "--addr", ADDR, "--domain", "a.test",
            "--domain", "c.test=b.test", "--domain", "self.test=self",
            "--certs", CERTS, "--require-encryption", "yes",
            "--option", "s2s_direct_tls_ports = { 5270 }",
            "--option", "s2s_direct_tls_ssl = { certificate = "
            f"\"{inst}/certs/a.test.pem\"; key = \"{inst}/certs/a.test.key\" }}")

    o = probe("a.test", *starttls("a.test"), "--route-tls",
              f"a.test={ADDR}:5270", want_exit=0)
    check(o.get("verdict") == "secure", f"a.test: verdict {o.get('verdict')}")
    modes = by_mode(o)
    st, dt = modes.get("starttls", {}), modes.get("direct", {})
    check(st.get("verdict") == "secure",
          f"a.test starttls: {st.get('verdict')} {st.get('reasons')}")
    check(st.get("features", {}).get("starttls_required") is True,
          "a.test starttls: STARTTLS required (s2s_require_encryption)")
    check(st.get("verification", {}).get("name_match") == "dnsname",
          "a.test starttls: name matched")
    check(st.get("features_tls") is not None,
          "a.test starttls: features after TLS (Prosody's session tickets "
          "do not stall the stream)")
    check(st.get("dialback_offered") is True, "a.test starttls: dialback")
    check(dt.get("verdict") == "secure",
          f"a.test direct: {dt.get('verdict')} {dt.get('reasons')}")
    check(dt.get("features") is None, "a.test direct: no clear-text features")
    check(dt.get("handshake", {}).get("established") is True,
          "a.test direct: TLS first")
    check("CN=a.test" in dt.get("certificate", {}).get("subject", ""),
          "a.test direct: certificate")

    o = probe("c.test", *starttls("c.test"), want_exit=1)
    c = (o.get("candidates") or [{}])[0]
    check(c.get("verdict") == "insecure", "c.test: insecure")
    check(c.get("verification", {}).get("trusted") is True,
          "c.test: the certificate is trusted")
    check("certificate names b.test, not c.test" in c.get("reasons", []),
          f"c.test: reason {c.get('reasons')}")

    o = probe("self.test", *starttls("self.test"), want_exit=1)
    c = (o.get("candidates") or [{}])[0]
    check(c.get("verification", {}).get("chain") == "self-signed",
          "self.test: self-signed")
    check("certificate not trusted: it is self-signed" in c.get("reasons", []),
          f"self.test: reason {c.get('reasons')}")
    check(c.get("verification", {}).get("name_matches") is True,
          "self.test: the name matches all the same")
    fixture("stop", inst)
    shutil.rmtree(inst, ignore_errors=True)

    # Prosody without TLS: STARTTLS not offered.
    fixture("start", inst, "--addr", ADDR, "--domain", "a.test",
            "--certs", CERTS, "--tls", "no", "--require-encryption", "no")
    o = probe("a.test", *starttls("a.test"), want_exit=1)
    c = (o.get("candidates") or [{}])[0]
    check(c.get("features", {}).get("starttls") is False,
          "no tls: no STARTTLS")
    check(any(r.startswith("STARTTLS not offered")
              for r in c.get("reasons", [])),
          f"no tls: reason {c.get('reasons')}")
    fixture("stop", inst)
finally:
    subprocess.run(["bash", FIXTURE, "stop", inst], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)

print(f"probe/prosody checks done, {len(failures)} failed")
sys.exit(1 if failures else 0)
