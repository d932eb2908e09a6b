"""A transparent proxy in front of moto's S3 that enforces the encryption requirement.

A file prepared with isEncrypted must be written with
`x-amz-server-side-encryption: AES256` (Keboola's bucket policy denies anything
else with 403 AccessDenied). Moto does not evaluate bucket-policy conditions,
so this gate checks the header on PutObject and CreateMultipartUpload for
those keys and forwards everything else byte for byte, Host header included,
so moto still verifies the client's SigV4 signature. One deviation from AWS:
the gate answers before moto, so a request that is both unsigned and
unencrypted gets AccessDenied rather than a signature error.
"""
import http.client
import urllib.parse
from http.server import BaseHTTPRequestHandler

from .httpserve import bind_server, serve_in_thread

_HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                "upgrade", "expect"}
_CHUNK = 256 * 1024


def _access_denied(resource):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
            "<Message>Access Denied</Message>"
            f"<Resource>{resource}</Resource><RequestId>emulator</RequestId></Error>").encode()


class S3GateHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonS3"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def _bucket_and_key(self, path):
        """Virtual-hosted (BUCKET.s3.REGION.amazonaws.com/KEY) or path-style (/BUCKET/KEY)."""
        host = (self.headers.get("Host") or "").split(":")[0]
        if ".s3." in host and host.endswith(".amazonaws.com"):
            return host.split(".s3.", 1)[0], path.lstrip("/")
        parts = path.lstrip("/").split("/", 1)
        return (parts[0], parts[1]) if len(parts) == 2 else (None, None)

    def _needs_sse(self):
        parsed = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        bucket, key = self._bucket_and_key(urllib.parse.unquote(parsed.path))
        if key is None or (bucket, key) not in self.server.backend.encrypted_keys:
            return False
        is_put_object = (self.command == "PUT" and "partNumber" not in query
                         and "x-amz-copy-source" not in self.headers)
        is_initiate = self.command == "POST" and "uploads" in query
        return is_put_object or is_initiate

    def _discard_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            data = self.rfile.read(min(length, _CHUNK))
            if not data:
                break
            length -= len(data)

    def _reply(self, status, body, content_type="application/xml"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        faults = self.server.faults
        if faults is not None and faults.apply_to_raw(self, "s3"):
            return
        if self._needs_sse() and self.headers.get("x-amz-server-side-encryption") != "AES256":
            self._discard_body()
            self._reply(403, _access_denied(urllib.parse.urlsplit(self.path).path))
            return
        self._forward()

    def _forward(self):
        target = urllib.parse.urlsplit(self.server.backend.moto_url)
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=300)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_HEADERS and name.lower() != "transfer-encoding":
                    upstream.putheader(name, value)
            chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
            if chunked:
                upstream.putheader("Transfer-Encoding", "chunked")
            upstream.endheaders()
            self._relay_request_body(upstream, chunked)
            response = upstream.getresponse()
            body = response.read()
        finally:
            upstream.close()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_HEADERS and name.lower() not in (
                    "content-length", "transfer-encoding", "server", "date"):
                self.send_header(name, value)
        if self.command == "HEAD":  # keep the object's length, there is no body to count
            self.send_header("Content-Length", response.getheader("Content-Length", "0"))
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _relay_request_body(self, upstream, chunked):
        if chunked:
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                data = self.rfile.read(size + 2)[:size] if size else b""
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    upstream.send(b"0\r\n\r\n")
                    return
                upstream.send(b"%x\r\n%s\r\n" % (size, data))
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            data = self.rfile.read(min(length, _CHUNK))
            if not data:
                raise ConnectionError("client closed the connection mid-body")
            upstream.send(data)
            length -= len(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def bind_gate(faults, host="127.0.0.1", tls=None):
    """Bound before the backend exists (its URL goes into uploadParams); set .backend, then serve.

    tls = {"cert": path, "key": path}: serve HTTPS, as S3 does under its
    production names (the rig's production-hosts mode). The handshake runs in
    the handler's thread (on first read), not in the accept loop."""
    server = bind_server(S3GateHandler, host, 0, backend=None, faults=faults)
    if tls:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls["cert"], tls["key"])
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
    return server


def serve_gate(server, backend):
    server.backend = backend
    return serve_in_thread(server)
