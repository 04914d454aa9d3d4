#!/usr/bin/env python3
"""Writes the seed corpora in tests/data/fuzz/, one directory per libFuzzer target.

Each session seed (format: tests/smtp/session_harness.h) is a conversation the harness's canned
driver can follow to its end, so that mutations start from deep states (TLS, BDAT, rejections)
rather than from the greeting. The HTTP, JSON and raw-message seeds are plain inputs: valid ones
that reach deep into the parser, and near misses one mutation away from another branch.
Run from anywhere; the files are committed, this is only needed to change them. It rewrites
every seed it knows and leaves other files alone.
"""
import json
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


def http(*lines, body=b""):
    return "".join(l + "\r\n" for l in lines).encode() + b"\r\n" + body


SUBMIT_BODY = b'{"from":"a@example.test","to":["b@example.org"],"subject":"hi","text":"hello"}'
POST = ("POST /v1/messages HTTP/1.1", "Host: localhost", "Authorization: Bearer rp_live_0123456789abcdef",
        "Content-Type: application/json")
HTTP_REQUEST_PARSER = {
    "get": http("GET /v1/messages/01M8A1QARMMN7GJ7ZYR0YJMVPT HTTP/1.1", "Host: localhost", "Accept: */*"),
    "post_length": http(*POST, f"Content-Length: {len(SUBMIT_BODY)}", "Idempotency-Key: order-1234",
                        body=SUBMIT_BODY),
    "pipelined": http("GET /v1/health HTTP/1.1", "Host: a") + http(*POST, "Content-Length: 2", body=b"{}")
                 + http("GET /metrics HTTP/1.1", "Host: a", "Connection: close"),
    "chunked_trailers": http(*POST, "Transfer-Encoding: chunked",
                             body=b"5\r\n{\"a\":\r\n3;ext=1\r\n1}\n\r\n0\r\nAuthorization: Bearer trailer\r\n"
                                  b"X-Trailer: 1\r\n\r\n"),
    "chunked_then_get": http(*POST, "Transfer-Encoding: chunked", body=b"2\r\n{}\r\n0\r\n\r\n")
                        + http("GET / HTTP/1.1", "Host: a"),
    "duplicate_authorization": http("GET /v1/keys HTTP/1.1", "Authorization: Bearer a", "authorization: Bearer b"),
    "duplicate_content_length": http("POST /v1/messages HTTP/1.1", "Content-Length: 2", "Content-Length: 3",
                                     body=b"{}"),
    "duplicate_idempotency_key": http(*POST, "Idempotency-Key: a", "IDEMPOTENCY-KEY: b", "Content-Length: 2",
                                      body=b"{}"),
    "length_and_chunked": http(*POST, "Content-Length: 2", "Transfer-Encoding: chunked", body=b"2\r\n{}\r\n0\r\n\r\n"),
    "expect_continue": http(*POST, "Expect: 100-continue", "Content-Length: 2", body=b"{}"),
    "expect_continue_http10": http("POST /v1/messages HTTP/1.0", "Expect: 100-continue", "Content-Length: 2",
                                   body=b"{}"),
    "too_large_length": http(*POST, "Content-Length: 70000"),
    "too_large_chunked": http(*POST, "Transfer-Encoding: chunked", body=b"40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n"),
    "http10_keep_alive": http("GET / HTTP/1.0", "Connection: keep-alive") + http("GET / HTTP/1.0"),
    "obs_fold": http("GET / HTTP/1.1", "Host: a", "X-Folded: one", " two", "Content-Type: text/plain;", "\tcharset=utf-8"),
    "empty_values": http("GET / HTTP/1.1", "Host:", "Authorization:", "Idempotency-Key: k"),
    "lf_only": b"GET /a HTTP/1.1\nHost: a\n\nGET /b HTTP/1.1\nHost: b\n\n",
    "absolute_target": http("OPTIONS http://localhost:8025/v1/messages?x=1#f HTTP/1.1", "Host: localhost"),
    "connect": http("CONNECT localhost:443 HTTP/1.1", "Host: localhost"),
    "bad_request_line": b"GET /\x00 HTTP/1.1\r\n\r\n",
    "bad_version": http("GET / HTTP/9.9", "Host: a"),
    "bad_header_name": http("GET / HTTP/1.1", "Bad Header: x"),
    "upgrade": http("GET /ws HTTP/1.1", "Host: a", "Connection: Upgrade", "Upgrade: websocket") + b"\x81\x00",
}


def submit(**fields):
    return json.dumps(fields, ensure_ascii=False).encode()


MSG = {"from": "a@example.test", "to": ["b@example.org"], "subject": "hi", "text": "hello"}
RAW = "From: Ann <a@example.test>\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
SUBMIT_REQUEST = {
    "minimal": submit(**MSG),
    "full": submit(**{
        "from": {"address": "agent@example.test", "name": "Report Bot"},
        "to": ["bob@example.org", {"address": "ann@example.org", "name": "Ann Åberg"}],
        "cc": [{"address": "c@example.org", "name": "Lee, Ann"}], "bcc": ["audit@example.test"],
        "reply_to": {"address": "support@example.test", "name": "Support"},
        "subject": "Your report — ünïcode", "text": "Hello\nline two", "html": "<p>Hello <img src=cid:logo@x></p>",
        "headers": {"List-Unsubscribe": "<https://example.test/u/1>", "X-Campaign": "7"},
        "attachments": [{"filename": "report.pdf", "content_type": "application/pdf", "content_base64": "JVBERi0xLjcK"},
                        {"filename": "logo.png", "content_type": "image/png", "content_base64": "iVBORw0K",
                         "content_id": "logo@x"}],
        "tags": {"campaign": "weekly", "tenant": "acme"}, "metadata": {"order": 1234, "price": 1.50, "items": [{"sku": "A-1"}]},
        "send_at": "2026-11-26T08:00:00Z"}),
    "raw": submit(**{"from": "a@example.test", "to": ["b@example.org"], "raw": RAW}),
    "raw_lf_bcc": submit(**{"from": "a@example.test", "to": "b@example.org",
                            "raw": "From: a@example.test\nBcc: hidden@example.org,\n  other@example.org\nSubject: x\n\nbody"}),
    "raw_with_subject": submit(**{"from": "a@example.test", "to": ["b@example.org"], "raw": RAW, "subject": "x"}),
    "raw_utf8_header": submit(**{"from": "a@example.test", "to": ["b@example.org"], "smtputf8": True,
                                 "raw": "From: Jörg <jörg@bücher.example>\r\nSubject: grüße\r\n\r\nbody"}),
    "idn_and_utf8_local": submit(**{"from": "a@bücher.example", "to": ["jörg@example.org"], "smtputf8": True,
                                    "text": "x"}),
    "utf8_local": submit(**{"from": "a@example.test", "to": ["jörg@example.org"], "text": "x"}),
    "utf8_local_refused": submit(**{"from": "a@example.test", "to": ["jörg@example.org"], "smtputf8": False,
                                    "text": "x"}),
    "address_literal": submit(**{"from": "a@example.test", "to": ["b@[192.0.2.1]", "c@[IPv6:2001:db8::1]"], "text": "x"}),
    "bad_address": submit(**{"from": "Ann <a@example.test>", "to": ["b@example..org"], "text": "x"}),
    "many_recipients": submit(**{"from": "a@example.test", "to": [f"r{i}@example.org" for i in range(5)],
                                 "cc": ["R0@EXAMPLE.ORG"], "text": "x"}),
    "reserved_header": submit(**{**MSG, "headers": {"Message-ID": "<x@y>", "Reply-To": "a@b"}}),
    "header_injection": submit(**{**MSG, "headers": {"X-A": "a\r\nBcc: evil@example.org"}}),
    "long_text": submit(**{**MSG, "text": "x" * 1200 + "\n" + "é" * 300, "html": "<p>" + "y" * 1100 + "</p>"}),
    "long_subject": submit(**{**MSG, "subject": "ä" * 200 + " word" * 60}),
    "tags_limits": submit(**{**MSG, "tags": {f"k{i}": "v" * 3 for i in range(21)}}),
    "metadata_numbers": b'{"from":"a@example.test","to":["b@example.org"],"text":"x","metadata":{"a":2.0e3,"b":-0,'
                        b'"c":-9223372036854775808,"d":[true,null,{"e":"\\u00e9\\ud83d\\ude00"}],"f":1.50}}',
    "metadata_bigint": b'{"from":"a@example.test","to":["b@example.org"],"text":"x","metadata":{"c":18446744073709551616}}',
    "send_at_bad": submit(**{**MSG, "send_at": "2027-02-30T25:00:00+14:00"}),
    "send_at_far": submit(**{**MSG, "send_at": "2030-01-01T00:00:00.123456Z"}),
    "unknown_and_null": b'{"from":"a@example.test","to":null,"cc":["b@example.org"],"text":"x","bc":[]}',
    "duplicate_field": b'{"from":"a@example.test","from":"b@example.test","to":["c@example.org"],"text":"x"}',
    "bad_base64": submit(**{**MSG, "attachments": [{"filename": "../a.txt", "content_type": "text/plain; charset=utf-8",
                                                    "content_base64": "YWJj=ZA"}]}),
    "batch": json.dumps({"messages": [MSG, {**MSG, "to": ["c@example.org"], "html": "<b>x</b>"},
                                      {"from": "a@example.test", "to": ["b@example.org"], "raw": RAW}]}).encode(),
    "batch_with_bad_items": json.dumps({"messages": [MSG, {"from": "x"}, 7, {**MSG, "text": ""}]}).encode(),
    "batch_empty": b'{"messages":[]}',
    "batch_unknown_key": b'{"messages":[{"from":"a@example.test"}],"extra":1}',
    "not_json": b'{"from":"a@example.test",',
    "not_object": b'["from","a@example.test"]',
}

RAW_MESSAGE = {
    "simple": RAW.encode(),
    "folded": b"From: Ann\r\n  <a@example.test>\r\nSubject: a\r\n\tlong subject\r\nReceived: from x\r\n"
              b"\tby y; Tue, 1 Jan 2030 00:00:00 +0000\r\n\r\nbody",
    "group": b"From: Team: a@example.test, \"B\" <b@EXAMPLE.org>;, c@example.net\r\nTo: undisclosed-recipients:;\r\n\r\n",
    "quoted_names": b'From: "Lee, Ann <x@y>" <a@example.test>, "q\\"uote" <b@example.org>\r\n'
                    b'Sender: "s@t" <s@sender.example>\r\n\r\nx',
    "comments": b"From: a@example.test (Ann (the (nested) one)), (comment only) b@example.org (x\\)y)\r\n\r\n",
    "lf_only": b"From: a@example.test\nSubject: x\n\nbody\nmore\n",
    "cr_only": b"From: a@example.test\rSubject: x\r\rbody",
    "mixed_breaks": b"From: a@example.test\r\nTo: b@example.org\n\tc@example.org\rSubject: s\n\r\nbody",
    "utf8_header": "From: Jörg <jörg@bücher.example>\r\nSubject: grüße\r\n\r\nbody".encode(),
    "obs_wsp_before_colon": b"From : a@example.test\r\nSubject\t: x\r\n\r\n",
    "two_from": b"From: a@example.test\r\nfrom: b@example.test\r\n\r\n",
    "two_subjects": b"From: a@example.test\r\nSubject: a\r\nSUBJECT: b\r\n\r\n",
    "no_from": b"To: b@example.org\r\n\r\nbody",
    "sender_two": b"From: a@example.test\r\nSender: a@example.test, b@example.test\r\n\r\n",
    "no_blank_line": b"From: a@example.test\r\nSubject: x\r\n",
    "continuation_first": b" From: a@example.test\r\n\r\n",
    "not_a_field": b"From: a@example.test\r\nthis is body text\r\n\r\n",
    "long_line": b"From: a@example.test\r\nX-Long: " + b"x" * 992 + b"\r\n\r\n" + b"y" * 999,
    "nul": b"From: a@example.test\r\n\r\nbo\x00dy",
    "unclosed_angle": b"From: Ann <a@example.test\r\n\r\n",
    "unclosed_quote_comment": b'From: "Ann <a@example.test>, (b@example.org\r\n\r\n',
    "no_at": b"From: Ann <ann>\r\n\r\n",
    "address_literal": b"From: a@[192.0.2.1], b@[IPv6:::1]\r\n\r\n",
    "empty_entries": b"From: , a@example.test ,, ;\r\n\r\n",
}

# Whole messages: the body is checked as a body and the whole input as a message. Cases where the
# two canonicalizations differ: WSP runs and tabs, WSP before line ends, trailing blank lines,
# bare CR and LF, folding, a body without a final CRLF, and long runs past the 16-byte scan.
DKIM_CANON = {
    "plain": b"From: a@example.test\r\nSubject: hi\r\n\r\nHello,\r\nworld.\r\n",
    "wsp_runs": b"From: a@example.test\r\n\r\na  b\t\tc   \r\n \t \r\n\tindented\r\n. dot\r\n",
    "trailing_blank": b"From: a@example.test\r\n\r\ntext\r\n\r\n \r\n\t\r\n",
    "bare_breaks": b"From: a@example.test\r\n\r\na \rb\n c \r \r\n",
    "folded": b"From: \"A\"\r\n <a@example.test>\r\nSubject:   x\r\n\t y \t\r\nTO: b@x\r\nto: c@x\r\n\r\nb\r\n",
    "no_final_crlf": b"From: a@example.test\r\n\r\nlast line  ",
    "long_runs": b"From: a@example.test\r\n\r\n" + b"word " * 40 + b"  " + b"x" * 33 + b" " * 40 + b"\r\n",
    "empty_body": b"From: a@example.test\r\n\r\n",
    "eight_bit": "From: Jörg <j@example.test>\r\n\r\nGrüße \xff\r\n".encode("utf-8", "surrogateescape"),
}

SEEDS = (("session", SESSION), ("reply_parser", REPLY_PARSER), ("http_request_parser", HTTP_REQUEST_PARSER),
         ("submit_request", SUBMIT_REQUEST), ("raw_message", RAW_MESSAGE), ("dkim_canon", DKIM_CANON))
for sub, seeds in SEEDS:
    os.makedirs(os.path.join(ROOT, sub), exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(ROOT, sub, name), "wb") as f:
            f.write(data)
