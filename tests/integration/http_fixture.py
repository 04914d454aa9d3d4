#!/usr/bin/python3
"""A tiny HTTP/1.1 server for the HttpClient self-test (run with /usr/bin/python3).

GET  /len       -> 200, Content-Length body "len-body"
GET  /chunked   -> 200, chunked body "chunked-body" in three chunks
GET  /close     -> 200, Content-Length body "bye", then Connection: close
GET  /conn      -> 200, body = number of TCP connections accepted so far
POST /echo      -> 200, body = request body
POST /limit     -> reads only the headers; if Content-Length > 1 MiB answers 413 at once
                   and closes without reading the body (what a server may do with 11 MiB)
Prints "ready <port>" when listening on 127.0.0.1:--port.
"""
import argparse
import http.server
import socketserver


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes
    connections = 0

    def setup(self):
        Handler.connections += 1
        super().setup()

    def log_message(self, *args):
        pass

    def reply(self, code, body, close=False):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/len":
            self.reply(200, "len-body")
        elif self.path == "/close":
            self.reply(200, "bye", close=True)
        elif self.path == "/conn":
            self.reply(200, str(Handler.connections))
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"chunk", b"ed-", b"body"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.reply(404, "no")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        if self.path == "/limit" and n > (1 << 20):
            self.reply(413, "too big", close=True)
            return
        body = self.rfile.read(n)
        self.reply(200, body.decode("latin-1"))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    print("ready %d" % args.port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
