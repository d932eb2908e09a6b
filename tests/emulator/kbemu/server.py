"""The Storage API HTTP handler: body reading, fault injection, routing, error bodies."""
import json
import re
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler

from . import control, routes
from .branches import BranchView
from .errors import ApiError
from .faults import STATUS_KINDS, drop_connection, endpoint_class
from .http_types import Request, Response

_GCS_OBJECTS = re.compile(r"^/upload/storage/v1/b/([^/]+)/o$")


def _fault_response(kind, retry_after):
    """The answer for an injected error kind (what a server or its proxy would send)."""
    if kind == "maintenance":
        body = {"status": "maintenance", "reason": "Scheduled maintenance (emulated)",
                "estimatedEndTime": time.strftime("%Y-%m-%dT%H:%M:%S+0000",
                                                  time.gmtime(time.time() + 60))}
        return Response(503, json.dumps(body).encode(), headers={"Retry-After": retry_after})
    status, with_retry_after = STATUS_KINDS[kind]
    headers = {"Retry-After": retry_after} if with_retry_after else {}
    if status in (502, 503, 504):  # these come from the load balancer: not JSON
        reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}[status]
        html = f"<html><body><h1>{status} {reason}</h1></body></html>\n".encode()
        return Response(status, html, "text/html", headers)
    code = "tooManyRequests" if status == 429 else "internal"
    message = "Too many requests" if status == 429 else "Internal Server Error (injected)"
    error = ApiError(status, code, message)
    return Response(status, error.body(), headers=headers)


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kbsyncd-emulator"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, response):
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _dispatch(self):
        app = self.server.app
        req = Request(self.command, self.path, self.headers, self._read_body(), app.base_url)
        if req.path.startswith("/_emulator/"):
            self._send(self._run(lambda: self._control(app, req)))
            return
        cls = endpoint_class(req.path)
        kind = app.faults.decide(cls, req.method, req.path) if cls else None
        req.stuck_job = kind == "stuck-job"
        if kind == "drop":
            app.request_log.add(req.method, req.path, req.query_string, None, kind)
            drop_connection(self)
            return
        if kind == "slow":
            time.sleep(app.faults.slow_seconds)
        if kind in STATUS_KINDS or kind == "maintenance":
            response = _fault_response(kind, app.faults.retry_after)
        else:
            response = self._run(lambda: self._route(app, req))
            if kind == "commit-then-500":  # the work is done, the answer is lost
                response = _fault_response("500", app.faults.retry_after)
        app.request_log.add(req.method, req.path, req.query_string, response.status, kind)
        self._send(response)

    @staticmethod
    def _control(app, req):
        handler, req.args = control.match(req.method, req.path)
        return handler(app, req)

    @staticmethod
    def _route(app, req):
        gcs = _GCS_OBJECTS.match(req.path)
        if gcs and hasattr(app.backend, "handle_upload"):
            if req.method == "POST" and "upload_id" not in req.query:
                return app.backend.handle_upload(req, gcs.group(1))
            if req.method == "PUT":
                return app.backend.handle_chunk(req, gcs.group(1))
        branch_id, path = routes.split_branch(req.path)
        try:
            handler, req.args, needs_token = routes.match(req.method, path)
        except LookupError as exc:
            if exc.args[0]:
                raise ApiError(405, "methodNotAllowed",
                               f"Method {req.method} is not allowed here; use {', '.join(exc.args[0])}.")
            raise ApiError(404, "notFound", f"Route {req.method} {req.path} not found")
        if needs_token:
            req.token = app.tokens.authenticate(req.headers)
        branch = app.branches.get(branch_id) if branch_id is not None else app.branches.default
        return handler(BranchView(app, branch), req)

    @staticmethod
    def _run(action):
        try:
            return action()
        except ApiError as exc:
            return Response(exc.status, exc.body(), headers=exc.headers)
        except Exception as exc:  # an emulator bug: answer like the real server, log the trace
            traceback.print_exc(file=sys.stderr)
            error = ApiError(500, "internal", f"Emulator error: {type(exc).__name__}: {exc}")
            return Response(500, error.body())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch
