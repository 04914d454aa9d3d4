#!/usr/bin/python3
"""A webhook receiver for tests: logs every POST as a JSON line (path, body, webhook-id, whether
the Standard Webhooks signature verifies with the secret, computed here independently of
ringpost), and answers 500 to the first N POSTs so the sender's retry can be seen; with
HOLD_FILE, also 503 to every POST while that file exists (the test decides when it is back).
Usage: webhook_receiver.py PORT SECRET LOGFILE FAIL_FIRST [HOLD_FILE]"""
import base64, hashlib, hmac, http.server, json, os, sys

port, secret, logfile, fail_first = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
hold_file = sys.argv[5] if len(sys.argv) > 5 else None
# Standard Webhooks: the key is the base64 after "whsec_".
key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
seen = 0


def verify(msg_id, timestamp, signatures, body):
    signed = f"{msg_id}.{timestamp}.".encode() + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # The header may list several space-separated "v1,<sig>" (key rotation): any may match.
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:], want) for s in signatures.split())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen += 1
        status = 500 if seen <= fail_first else 503 if hold_file and os.path.exists(hold_file) else 200
        msg_id = self.headers.get("webhook-id", "")
        valid = bool(msg_id) and verify(msg_id, self.headers.get("webhook-timestamp", ""),
                                        self.headers.get("webhook-signature", ""), body)
        entry = {"path": self.path, "id": msg_id, "valid": valid, "status": status, "body": json.loads(body)}
        with open(logfile, "a") as f:
            f.write(json.dumps(entry) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


print("listening", flush=True)
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
