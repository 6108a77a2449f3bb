#!/usr/bin/env python3
"""xs2s_dialback_key() against Python's own HMAC and SHA-256.

An independent computation of the XEP-0185 key for the specification's
example and for many generated inputs (ASCII and UTF-8 domains, ids of all
lengths), calling the built shared library through ctypes.
"""
import ctypes
import hashlib
import hmac
import random
import sys

XEP0185 = ("s3cr3tf0rd14lb4ck", "xmpp.example.com", "example.org",
           "D60000229F",
           "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643")


def reference(secret, receiving, originating, stream_id):
    key = hashlib.sha256(secret.encode()).hexdigest().encode()
    msg = " ".join([receiving, originating, stream_id]).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def word(rng, alphabet, lo, hi):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def main():
    lib = ctypes.CDLL(sys.argv[1])
    fn = lib.xs2s_dialback_key
    fn.argtypes = [ctypes.c_char_p] * 4 + [ctypes.c_char_p]
    fn.restype = ctypes.c_int
    out = ctypes.create_string_buffer(65)

    def ours(*args):
        rc = fn(*(a.encode() for a in args), out)
        if rc != 0:
            raise SystemExit(f"xs2s_dialback_key{args} returned {rc}")
        return out.value.decode()

    secret, rcv, org, sid, want = XEP0185
    if reference(secret, rcv, org, sid) != want or ours(secret, rcv, org,
                                                        sid) != want:
        raise SystemExit("XEP-0185 example does not reproduce")

    rng = random.Random(20070215)
    label = "abcdefghijklmnopqrstuvwxyz0123456789-" + "éüßж中"
    idchars = "ABCDEF0123456789abcdef-_."
    count = 500
    for _ in range(count):
        dom = lambda: ".".join(word(rng, label, 1, 12)
                               for _ in range(rng.randint(1, 4)))
        args = (word(rng, "".join(map(chr, range(33, 127))) + "ä", 1, 80),
                dom(), dom(), word(rng, idchars, 1, 64))
        if ours(*args) != reference(*args):
            raise SystemExit(f"key differs for {args!r}")
    print(f"XEP-0185 example and {count} generated inputs agree with "
          "Python's hmac/hashlib")


if __name__ == "__main__":
    main()
