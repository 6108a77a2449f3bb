#!/usr/bin/env python3
"""xs2s-probe against real receiving xs2s sessions on loopback (probe_peer,
with the certtool certificates) and a few scripted servers: the JSON
verdict, reasons and exit status for a valid certificate, a certificate for
another name, a self-signed one, one from an unknown CA, a server without
STARTTLS, SRV records whose first target refuses the connection, nothing
listening at all, a port that never answers, direct TLS against a STARTTLS
port, a server that does not serve the domain, a server that refuses
STARTTLS, usage and resolution errors, and the human report.

usage: check-probe-connect.py PROBE PEER CERTDIR
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

PROBE, PEER, CERTS = sys.argv[1], sys.argv[2], sys.argv[3]
ADDR = "127.0.0.1"
failures = []
peers = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def start_peer(*args):
    """A probe_peer serving a.test with ARGS; returns its port."""
    p = subprocess.Popen([PEER, "--listen", ADDR, "--domain", "a.test"]
                         + list(args), stdout=subprocess.PIPE, text=True)
    peers.append(p)
    line = p.stdout.readline()
    if not line.strip().isdigit():
        raise SystemExit(f"probe_peer did not start: {line!r}")
    return int(line)


def cert(name):
    return ["--cert", os.path.join(CERTS, name + ".pem"),
            "--key", os.path.join(CERTS, name + ".key")]


def refused_port():
    """A port that refuses connections: bound, never listening. The socket
    stays open (in the returned object) so that nothing else takes it."""
    s = socket.socket()
    s.bind((ADDR, 0))
    return s, s.getsockname()[1]


def scripted_peer(answers):
    """A one-connection server on ADDR that answers each thing the probe
    sends with the next of ANSWERS (the first answers the stream header),
    then closes. Returns its port."""
    srv = socket.socket()
    srv.bind((ADDR, 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(10)
            for answer in answers:
                if not conn.recv(4096):
                    break
                conn.sendall(answer.encode())
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


def probe(*args, want_exit, label, text=False):
    cmd = [PROBE, "--ca", os.path.join(CERTS, "ca.pem"), "--timeout", "5000"]
    if not text:
        cmd.append("--json")
    cmd += list(args)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(run.returncode == want_exit,
          f"{label}: exit {run.returncode}, expected {want_exit}"
          f" (stderr: {run.stderr.strip()})")
    if text:
        return run.stdout
    try:
        return json.loads(run.stdout)
    except ValueError:
        check(False, f"{label}: not JSON: {run.stdout!r}")
        return {"candidates": [{}]}


def routed(port, label, want_exit, *extra):
    return probe("--route", f"a.test={ADDR}:{port}", *extra, "a.test",
                 want_exit=want_exit, label=label)


def reasons(cand):
    return " | ".join(cand.get("reasons", []))


def check_top(obj, label, verdict, code):
    check(obj.get("domain") == "a.test", f"{label}: domain")
    check(obj.get("from") == "probe.invalid", f"{label}: default from")
    check(obj.get("verdict") == verdict,
          f"{label}: verdict {obj.get('verdict')}, expected {verdict}")
    check(obj.get("exit") == code, f"{label}: exit field {obj.get('exit')}")
    check(isinstance(obj.get("summary"), str), f"{label}: summary")


try:
    # 1. A valid certificate: secure, exit 0, every part shown.
    port = start_peer(*cert("a.test"))
    o = routed(port, "valid", 0)
    check_top(o, "valid", "secure", 0)
    c = o["candidates"][0]
    check(c.get("verdict") == "secure", f"valid: verdict {c.get('verdict')}")
    check(c.get("reasons") == [], f"valid: no reasons ({reasons(c)})")
    check(c.get("connect") == [{"address": ADDR, "connected": True}],
          f"valid: connect {c.get('connect')}")
    check(c.get("features", {}).get("starttls") is True, "valid: starttls")
    check(c.get("features", {}).get("starttls_required") is True,
          "valid: starttls required")
    check(c.get("handshake", {}).get("established") is True,
          "valid: handshake")
    check(c.get("handshake", {}).get("version", "").startswith("TLS1."),
          "valid: TLS version")
    cert_a = c.get("certificate", {})
    check("CN=a.test" in cert_a.get("subject", ""), "valid: subject")
    check("CN=xs2s test CA" in cert_a.get("issuer", ""), "valid: issuer")
    check({"type": "dns", "value": "a.test"} in cert_a.get("names", []),
          "valid: SAN dNSName a.test")
    check(cert_a.get("not_before", "") < cert_a.get("not_after", ""),
          "valid: validity period")
    check(len(cert_a.get("sha256", "")) == 64, "valid: fingerprint")
    v = c.get("verification", {})
    check(v == {"authenticated": True, "trusted": True, "chain": "trusted",
                "name_matches": True, "name_match": "dnsname",
                "dane": "none"}, f"valid: verification {v}")
    check(c.get("features_tls", {}).get("dialback") is True,
          "valid: dialback under TLS")
    check(c.get("features_tls", {}).get("starttls") is False,
          "valid: no STARTTLS under TLS")
    check(c.get("dialback_offered") is True, "valid: dialback_offered")
    check(c.get("ended") is None, "valid: the probe ended the stream")

    # The same from another --from, and the human report.
    o = probe("--from", "probe.test", "--route", f"a.test={ADDR}:{port}",
              "a.test", want_exit=0, label="from")
    check(o.get("from") == "probe.test", "from: reported")
    out = probe("--route", f"a.test={ADDR}:{port}", "a.test", want_exit=0,
                label="text valid", text=True)
    check("SECURE" in out and "a.test is reachable securely" in out,
          "text valid: verdict and summary")
    check("CN=xs2s test CA" in out and "STARTTLS (required)" in out,
          "text valid: issuer and features")

    # 2. A certificate for another name: reachable, not secure, exit 1.
    port = start_peer(*cert("b.test"))
    o = routed(port, "wrong name", 1)
    check_top(o, "wrong name", "insecure", 1)
    c = o["candidates"][0]
    check(c.get("verdict") == "insecure", "wrong name: verdict")
    v = c.get("verification", {})
    check(v.get("trusted") is True and v.get("name_matches") is False
          and v.get("name_match") == "none", f"wrong name: {v}")
    check("certificate names b.test, not a.test" in c.get("reasons", []),
          f"wrong name: reason ({reasons(c)})")
    out = probe("--route", f"a.test={ADDR}:{port}", "a.test", want_exit=1,
                label="text wrong name", text=True)
    check("certificate names b.test, not a.test" in out,
          "text wrong name: reason")
    check("REACHABLE, NOT SECURE" in out, "text wrong name: verdict")

    # 3. Untrusted: self-signed, and signed by a CA nobody trusts.
    for name, chain, words in (("self", "self-signed", "self-signed"),
                               ("unknown", "unknown-ca",
                                "CN=xs2s unknown CA")):
        port = start_peer(*cert(name))
        o = routed(port, name, 1)
        check_top(o, name, "insecure", 1)
        c = o["candidates"][0]
        v = c.get("verification", {})
        check(v.get("trusted") is False and v.get("chain") == chain,
              f"{name}: chain {v}")
        check(any(r.startswith("certificate not trusted") and words in r
                  for r in c.get("reasons", [])),
              f"{name}: reason ({reasons(c)})")

    # 4. TLS off at the server: no STARTTLS offered, exit 1.
    port = start_peer("--tls", "off")
    o = routed(port, "no starttls", 1)
    check_top(o, "no starttls", "insecure", 1)
    c = o["candidates"][0]
    check(c.get("features", {}).get("starttls") is False,
          "no starttls: features")
    check(c.get("features", {}).get("dialback") is True,
          "no starttls: dialback offered in clear text")
    check("handshake" not in c and "certificate" not in c,
          "no starttls: no TLS attempted")
    check(any(r.startswith("STARTTLS not offered")
              for r in c.get("reasons", [])),
          f"no starttls: reason ({reasons(c)})")

    # 5. SRV order: the first target refuses, the second is good.
    good = start_peer(*cert("a.test"))
    sock, bad = refused_port()
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
        conf.write(f"""server:
  local-zone: "." static
  local-zone: "test." static
  local-data: "_xmpp-server._tcp.a.test. 60 IN SRV 10 0 {bad} first.a.test."
  local-data: "_xmpp-server._tcp.a.test. 60 IN SRV 20 0 {good} second.a.test."
  local-data: "first.a.test. 60 IN A {ADDR}"
  local-data: "second.a.test. 60 IN A {ADDR}"
""")
        conf.flush()
        o = probe("--resolver-conf", conf.name, "a.test", want_exit=0,
                  label="srv")
        check_top(o, "srv", "secure", 0)
        check(o.get("source") == "srv", "srv: source")
        cs = o.get("candidates", [])
        check([(c.get("host"), c.get("port"), c.get("priority")) for c in cs]
              == [("first.a.test", bad, 10), ("second.a.test", good, 20)],
              f"srv: order {[(c.get('host'), c.get('port')) for c in cs]}")
        if len(cs) == 2:
            check(cs[0].get("verdict") == "unreachable", "srv: first down")
            check(cs[0].get("connect", [{}])[0].get("connected") is False,
                  "srv: first refused")
            check(any("connection refused" in r
                      for r in cs[0].get("reasons", [])),
                  f"srv: refused reason ({reasons(cs[0])})")
            check(cs[1].get("verdict") == "secure", "srv: second secure")
        # --first stops after the secure one; the refused one is still
        # tried, because it comes first.
        o = probe("--first", "--resolver-conf", conf.name, "a.test",
                  want_exit=0, label="srv first")
        check([c.get("verdict") for c in o.get("candidates", [])]
              == ["unreachable", "secure"], "srv first: verdicts")
        out = probe("--resolver-conf", conf.name, "a.test", want_exit=0,
                    label="text srv", text=True)
        check("connection refused" in out, "text srv: refused shown")

    # 6. Nothing listening anywhere: exit 2.
    sock2, bad2 = refused_port()
    o = probe("--route", f"a.test={ADDR}:{bad}", "--route",
              f"a.test={ADDR}:{bad2}", "a.test", want_exit=2,
              label="nothing")
    check_top(o, "nothing", "unreachable", 2)
    check(len(o.get("candidates", [])) == 2, "nothing: both routes")
    check(all(c.get("verdict") == "unreachable"
              for c in o.get("candidates", [])), "nothing: verdicts")
    sock.close()
    sock2.close()

    # 7. A port that accepts and never speaks: unreachable with a reason
    # that names the wait (the probe's own timeout, not a timing check).
    silent = socket.socket()
    silent.bind((ADDR, 0))
    silent.listen(4)
    o = probe("--timeout", "300", "--route",
              f"a.test={ADDR}:{silent.getsockname()[1]}", "a.test",
              want_exit=2, label="silent")
    c = o["candidates"][0]
    check(c.get("timed_out") is True, "silent: timed out")
    check(any("stream header" in r for r in c.get("reasons", [])),
          f"silent: reason ({reasons(c)})")
    silent.close()

    # 8. Direct TLS (XEP-0368) against a STARTTLS port: the handshake
    # fails, and the reason says so.
    o = probe("--route-tls", f"a.test={ADDR}:{good}", "a.test", want_exit=2,
              label="direct on starttls port")
    c = o["candidates"][0]
    check(c.get("tls") == "direct", "direct: candidate mode")
    check(any("TLS" in r for r in c.get("reasons", [])),
          f"direct: reason ({reasons(c)})")

    # 9. A server that does not serve the domain: its stream error is the
    # reason (reachable, exit 1).
    o = probe("--route", f"z.test={ADDR}:{good}", "z.test", want_exit=1,
              label="host-unknown")
    c = o["candidates"][0]
    check(c.get("ended", {}) is not None
          and c["ended"].get("by") == "peer"
          and c["ended"].get("condition") == "host-unknown",
          f"host-unknown: ended {c.get('ended')}")
    check(any("<host-unknown/>" in r for r in c.get("reasons", [])),
          f"host-unknown: reason ({reasons(c)})")

    # 10. A server that offers STARTTLS and then refuses it.
    port = scripted_peer([
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
        "xmlns:stream='http://etherx.jabber.org/streams' from='a.test' "
        "id='s1' version='1.0'><stream:features><starttls "
        "xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"])
    o = routed(port, "starttls refused", 1)
    c = o["candidates"][0]
    check(c.get("handshake", {}).get("established") is False,
          "starttls refused: no TLS")
    check(any("refused STARTTLS" in r for r in c.get("reasons", [])),
          f"starttls refused: reason ({reasons(c)})")

    # 11. Usage and resolution errors: exit 3.
    probe("a.test", "extra", want_exit=3, label="usage", text=True)
    probe("--timeout", "soon", "a.test", want_exit=3, label="bad timeout",
          text=True)
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
        conf.write('server:\n  local-zone: "." static\n')
        conf.flush()
        o = probe("--resolver-conf", conf.name, "nx.test", want_exit=3,
                  label="nxdomain")
        check(o.get("verdict") == "resolution-failed", "nxdomain: verdict")
        check(o.get("code") == "XS2S_ERR_DNS_NXDOMAIN", "nxdomain: code")
finally:
    for p in peers:
        p.kill()
        p.wait()

print(f"probe connect checks done, {len(failures)} failed")
sys.exit(1 if failures else 0)
