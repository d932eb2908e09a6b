#!/usr/bin/env python3
"""A tiny HTTP server for the host's own tests, on a free loopback port.

GET /delay?ms=N   answers "ok N" after N milliseconds
GET /hang         accepts and never answers (for timeouts)
PUT|POST /echo    answers with the length and a CRC32 of the body received
GET /big?bytes=N  answers N bytes
Prints the port on the first line of stdout, then serves until killed or
until stdin closes (so a test that dies never leaves it behind)."""
import http.server
import socketserver
import sys
import threading
import time
import urllib.parse
import zlib


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body, headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/delay":
            ms = int(q.get("ms", ["0"])[0])
            time.sleep(ms / 1000.0)
            self.reply(200, f"ok {ms}".encode(), {"X-Delay": str(ms), "Content-Type": "text/plain"})
        elif u.path == "/hang":
            time.sleep(3600)
        elif u.path == "/big":
            n = int(q.get("bytes", ["0"])[0])
            self.reply(200, b"x" * n)
        else:
            self.reply(404, b"not found")

    def _echo(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n) if n else b""
        crc = zlib.crc32(data) & 0xFFFFFFFF
        self.reply(200, f"{len(data)} {crc:08x} {self.command}".encode())

    do_PUT = _echo
    do_POST = _echo


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        pass  # clients that hang up early (timeout tests) are expected


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        sys.stdin.read()  # until the test closes our stdin or dies
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
