#!/usr/bin/env python3
"""Writes the seed corpus in tests/data/fuzz/ (format: tests/smtp/session_harness.h).

Each session seed is a conversation the harness's canned driver can follow to its end, so that
mutations start from deep states (TLS, BDAT, rejections) rather than from the greeting.
Run from anywhere; the files are committed, this is only needed to change them.
"""
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "fuzz")
RS, EV = b"\x1e", b"\x1f"


def session(flags, *records):
    return flags.encode() + RS.join(r.encode("latin-1") if isinstance(r, str) else r for r in records)


GREET = "220 mx.dest.test ESMTP\r\n"
EHLO_ALL = ("250-mx.dest.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-SIZE 10485760\r\n"
            "250-8BITMIME\r\n250-SMTPUTF8\r\n250 DSN\r\n")
OK = "250 ok\r\n"
GO = "354 go\r\n"
# Without PIPELINING or SMTPUTF8: one reply per record for envelopes 1, 3, 5 and 6 (2 and 4
# are refused locally), then QUIT.
ONE_BY_ONE = ([OK] * 3 + [GO, OK]) + ([OK] * 2 + [GO, OK]) * 2 + ([OK] * 6 + [GO, OK]) + ["221 bye\r\n"]

SESSION = {
    # Canned envelopes: 1 two rcpts; 2 non-ASCII rcpt + 8-bit + DSN; 3 a 6.2 kB body;
    # 4 a 999-octet line (always refused locally); 5 one bad + one good rcpt; 6 five rcpts.
    "pipelining_bdat": session("0", GREET, EHLO_ALL, OK * 3 + "250 2.0.0 queued\r\n",
                               OK * 2 + "550 5.1.1 no\r\n250 2.0.0 queued\r\n", OK * 3, OK * 3, OK * 7,
                               "221 bye\r\n"),
    "pipelining_data": session("4", GREET, "250-mx\r\n250-PIPELINING\r\n250 SIZE 0\r\n",
                               OK * 3 + "354 go\r\n", "250 queued\r\n", OK * 2 + "354 go\r\n", OK,
                               OK * 2 + "354 go\r\n", OK, OK * 6 + "354 go\r\n", OK, "221 bye\r\n"),
    "no_pipelining": session("4", GREET, "250-mx\r\n250 8BITMIME\r\n", *ONE_BY_ONE),
    "starttls": session("1", GREET, "250-mx\r\n250 STARTTLS\r\n", "220 2.0.0 go ahead\r\n",
                        "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n", OK * 4, OK * 3, OK * 3, OK * 7,
                        "221 bye\r\n"),
    "starttls_required_refused": session("2", GREET, "250-mx\r\n250 STARTTLS\r\n", "454 4.7.0 not now\r\n"),
    "starttls_handshake_fails": session("9", GREET, "250-mx\r\n250 STARTTLS\r\n", "220 go\r\n"),
    "starttls_injection": session("1", GREET, "250-mx\r\n250 STARTTLS\r\n", "220 go\r\n250 injected\r\n"),
    "rejections": session("0", GREET, "250-mx\r\n250 PIPELINING\r\n",
                          OK + "550 5.1.1 no\r\n450 4.2.0 busy\r\n354 go\r\n", "554 5.5.1 no valid rcpts\r\n",
                          OK, "452 4.3.1 full\r\n503 5.5.1 no\r\n503 5.5.1 no\r\n", OK,
                          OK * 2 + "354 go\r\n", "421 4.4.2 bye\r\n"),
    "helo_fallback": session("4", GREET, "502 5.5.1 what\r\n", "250 mx\r\n", *ONE_BY_ONE),
    "size_limit": session("0", GREET, "250-mx\r\n250-PIPELINING\r\n250 SIZE 100\r\n",
                          OK * 3 + "354 go\r\n", OK, OK * 2 + "354 go\r\n", OK, OK * 6 + "354 go\r\n", OK),
    "timeout_mid_transaction": session("0", GREET, "250-mx\r\n250 PIPELINING\r\n", OK, EV + b"t"),
    "quit_before_ready": session("0", GREET, EV + b"q"),
    "closed_mid_bdat": session("0", GREET, EHLO_ALL, OK * 3, EV + b"c"),
}

REPLY_PARSER = {
    "ehlo": b"220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
    "enhanced": b"250 2.1.0 ok\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n354 go\r\n",
    "lf_only": b"220 a\n250-b\n250 c\n",
    "bad_line": b"220 ok\r\nxyz\r\n",
    "code_change": b"250-a\r\n251 b\r\n",
    "long_line": b"250 " + b"x" * 5000 + b"\r\n",
}

for sub, seeds in (("session", SESSION), ("reply_parser", REPLY_PARSER)):
    os.makedirs(os.path.join(ROOT, sub), exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(ROOT, sub, name), "wb") as f:
            f.write(data)
