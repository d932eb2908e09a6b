"""Emulator-only endpoints under /_emulator/ (never faulted, never need a token)."""
import json
import re

from .errors import ApiError
from .http_types import Response, empty_response, json_response
from .tables import table_dump


def _json_body(req):
    try:
        return json.loads(req.body or b"{}")
    except ValueError as exc:
        raise ApiError(400, "emulator.badRequest", f"Invalid JSON: {exc}")


def health(app, req):
    return json_response(200, {"ok": True, "provider": app.backend.provider,
                               "backend": app.backend.describe()})


def requests_log(app, req):
    since = int(req.query.get("since") or 0)
    entries = app.request_log.entries(since)
    return json_response(200, {"count": len(entries), "requests": entries})


def clear_requests(app, req):
    app.request_log.clear()
    return empty_response()


def reset(app, req):
    app.reset()
    return empty_response()


def get_faults(app, req):
    return json_response(200, app.faults.snapshot())


def put_faults(app, req):
    try:
        app.faults.configure(_json_body(req))
    except (ValueError, TypeError, KeyError) as exc:
        raise ApiError(400, "emulator.badRequest", str(exc))
    return json_response(200, app.faults.snapshot())


def get_config(app, req):
    return json_response(200, app.runtime_config())


def put_config(app, req):
    app.update_runtime_config(_json_body(req))
    return json_response(200, app.runtime_config())


def dump_table(app, req):
    """?branch=ID dumps the table of that development branch."""
    branch = req.query.get("branch")
    store = app.branches.get(branch).store if branch else None
    return table_dump(app, req.args[0], store)


def uploaded_bytes(app, req):
    file_id = int(req.args[0])
    stored = next((s.files[file_id] for s in app.branches.stores() if file_id in s.files), None)
    data = app.backend.read(stored) if stored else None
    if data is None:
        raise ApiError(404, "storage.files.notFound", "No uploaded bytes for this file")
    return Response(200, data, "application/octet-stream")


ROUTES = [
    ("GET", r"/_emulator/health", health),
    ("GET", r"/_emulator/requests", requests_log),
    ("DELETE", r"/_emulator/requests", clear_requests),
    ("POST", r"/_emulator/reset", reset),
    ("GET", r"/_emulator/faults", get_faults),
    ("PUT", r"/_emulator/faults", put_faults),
    ("GET", r"/_emulator/config", get_config),
    ("PUT", r"/_emulator/config", put_config),
    ("GET", r"/_emulator/tables/([^/]+)\.csv", dump_table),
    ("GET", r"/_emulator/files/(\d+)", uploaded_bytes),
]
_COMPILED = [(m, re.compile(p + "$"), h) for m, p, h in ROUTES]


def match(method, path):
    for route_method, pattern, handler in _COMPILED:
        found = pattern.match(path)
        if found and route_method == method:
            return handler, found.groups()
    raise ApiError(404, "emulator.notFound", f"No emulator endpoint {method} {path}")
