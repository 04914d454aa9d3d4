#!/usr/bin/python3
"""A webhook receiver for tests: logs every POST as a JSON line (path, body, whether the
Ringpost-Signature header verifies with the secret, computed here independently of ringpost),
and answers 500 to the first N POSTs so the sender's retry can be seen.
Usage: webhook_receiver.py PORT SECRET LOGFILE FAIL_FIRST"""
import hashlib, hmac, http.server, json, sys

port, secret, logfile, fail_first = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], int(sys.argv[4])
seen = 0


def verify(header, body):
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    want = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts["v1"])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen += 1
        status = 500 if seen <= fail_first else 200
        entry = {"path": self.path, "valid": verify(self.headers.get("Ringpost-Signature", ""), body),
                 "status": status, "body": json.loads(body)}
        with open(logfile, "a") as f:
            f.write(json.dumps(entry) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


print("listening", flush=True)
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
