#!/usr/bin/python3
"""Verifies every DKIM-Signature of a message with dkimpy (Debian python3-dkim), a verifier that
shares no code with libopendkim.

  verify_python.py [--txt NAME=VALUE ...] [--dns IP:PORT] MESSAGE_FILE...

Keys come either from --txt (dkimpy's dnsfunc override: NAME is "sel._domainkey.example.test")
or from a real DNS server at IP:PORT (a Knot instance the test runs). Prints, per signature in
message order:
  RESULT index=0 d=example.test s=sel a=rsa-sha256 result=pass detail=
then "SIGNATURES n". Exit status 0 whenever it ran; pass or fail is in the lines."""
import argparse
import logging
import re

import dkim
import dns.resolver


def tags_of(value):
    """The tag=value pairs of a DKIM-Signature value, whitespace removed (RFC 6376 §3.2)."""
    out = {}
    for part in re.sub(rb"\s+", b"", value).split(b";"):
        name, sep, val = part.partition(b"=")
        if sep:
            out[name.decode()] = val.decode(errors="replace")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("messages", nargs="+")
    ap.add_argument("--txt", action="append", default=[])
    ap.add_argument("--dns")
    args = ap.parse_args()

    txt = {}
    for item in args.txt:
        name, _, value = item.partition("=")
        txt[name.lower().rstrip(".")] = value.encode()
    resolver = None
    if args.dns:
        host, port = args.dns.rsplit(":", 1)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = int(port)
        resolver.timeout = 2
        resolver.lifetime = 5

    def dnsfunc(name, timeout=5):
        key = (name.decode() if isinstance(name, bytes) else name).lower().rstrip(".")
        if resolver is None:
            return txt.get(key)
        try:
            answer = resolver.resolve(key + ".", "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        for rdata in answer:
            return b"".join(rdata.strings)  # a record split into 255-octet strings is one value
        return None

    why = []

    class Collect(logging.Handler):
        def emit(self, record):
            why.append(record.getMessage())

    log = logging.getLogger("verify_python")
    log.setLevel(logging.DEBUG)
    log.addHandler(Collect())
    log.propagate = False

    for k, path in enumerate(args.messages):
        with open(path, "rb") as f:
            msg = f.read()
        print("MESSAGE {}".format(k))
        d = dkim.DKIM(msg, logger=log, minkey=1024)
        sigs = [v for (name, v) in d.headers if name.lower() == b"dkim-signature"]
        for i, value in enumerate(sigs):
            why.clear()
            try:
                ok = d.verify(idx=i, dnsfunc=dnsfunc)
            except Exception as e:  # dkimpy lets crypto errors escape (an RSA b= under k=ed25519)
                ok = False
                why.append("{}: {}".format(type(e).__name__, e))
            t = tags_of(value)
            detail = " | ".join(why)[-300:].replace("\n", " ")
            print("RESULT index={} d={} s={} a={} result={} detail={}".format(
                i, t.get("d", ""), t.get("s", ""), t.get("a", ""), "pass" if ok else "fail", detail))
        print("SIGNATURES {}".format(len(sigs)))


if __name__ == "__main__":
    main()
