"""Seeded, reproducible fault injection.

Every endpoint class (index, tokens, buckets, tables, files, jobs, webalize,
gcs, s3) has its own random.Random seeded from "<seed>:<class>", so the same
seed gives the same fault sequence for the same sequence of requests in a
class, whatever the other classes do. Each request in a class draws exactly
two numbers (hit?, which kind?) so the sequence does not shift with the rate.

Scripted one-shot faults (`script`) are served before random ones: the next
request matching method/path/class gets the listed kind. `/_emulator/*` is
never faulted (the server does not ask).
"""
import random
import re
import threading

STATUS_KINDS = {
    "500": (500, False), "502": (502, False), "503": (503, False), "504": (504, False),
    "500-retry-after": (500, True), "502-retry-after": (502, True),
    "503-retry-after": (503, True), "504-retry-after": (504, True),
    "429": (429, False), "429-retry-after": (429, True),
}
OTHER_KINDS = {"maintenance", "drop", "slow", "commit-then-500", "stuck-job"}
ALL_KINDS = sorted(STATUS_KINDS) + sorted(OTHER_KINDS)
# Random faults by default: everything except a job that never ends (that one
# makes every client wait for its own deadline, so ask for it explicitly).
DEFAULT_KINDS = [k for k in ALL_KINDS if k != "stuck-job"]
CLASSES = ["index", "tokens", "buckets", "tables", "files", "jobs", "webalize", "gcs", "s3"]


def endpoint_class(path):
    """The fault class of an API path, or None for paths never faulted."""
    if path.startswith("/upload/storage/"):
        return "gcs"
    if not path.startswith("/v2/storage"):
        return None
    rest = path[len("/v2/storage"):].strip("/").split("/")
    if rest[0] == "branch" and len(rest) > 2:  # a branch's call is faulted as its resource
        rest = rest[2:]
    head = rest[0] if rest and rest[0] else "index"
    if head == "buckets" and len(rest) >= 3 and rest[2].startswith("tables"):
        return "tables"
    return head if head in CLASSES else "index"


class FaultInjector:
    def __init__(self, rate=0.0, seed=0):
        self.lock = threading.Lock()
        self.configure({"rate": rate, "seed": seed, "rates": {}, "kinds": DEFAULT_KINDS,
                        "slowMs": 1500, "retryAfter": 1, "script": []}, replace=True)

    def configure(self, changes, replace=False):
        """Apply a (partial) config; any change restarts every class's sequence."""
        with self.lock:
            config = {} if replace else dict(self.config)
            config.update(changes)
            config["rate"] = float(config["rate"])
            config["rates"] = {k: float(v) for k, v in dict(config["rates"]).items()}
            unknown = [k for k in config["kinds"] if k not in ALL_KINDS] + [
                s.get("kind") for s in config["script"] if s.get("kind") not in ALL_KINDS]
            if unknown:
                raise ValueError(f"unknown fault kinds: {unknown}; known: {ALL_KINDS}")
            self.config = config
            self.script = [dict(s) for s in config["script"]]
            self.rngs = {}
            self.history = []

    def snapshot(self):
        with self.lock:
            view = dict(self.config)
            view["script"] = [dict(s) for s in self.script]
            view["knownKinds"] = ALL_KINDS
            view["classes"] = CLASSES
            view["history"] = list(self.history)
            return view

    def _rng(self, cls):
        rng = self.rngs.get(cls)
        if rng is None:
            rng = self.rngs[cls] = random.Random(f"{self.config['seed']}:{cls}")
        return rng

    def _from_script(self, cls, method, path):
        for entry in self.script:
            if entry.get("class", cls) != cls or entry.get("method", method) != method:
                continue
            if "path" in entry and not re.search(entry["path"], path):
                continue
            entry["count"] = int(entry.get("count", 1)) - 1
            if entry["count"] <= 0:
                self.script.remove(entry)
            return entry["kind"]
        return None

    def decide(self, cls, method, path):
        """The fault kind for this request, or None."""
        with self.lock:
            kind = self._from_script(cls, method, path)
            if kind is None:
                rng = self._rng(cls)
                hit, pick = rng.random(), rng.random()
                rate = self.config["rates"].get(cls, self.config["rate"])
                kinds = self.config["kinds"]
                if kinds and hit < rate:
                    kind = kinds[int(pick * len(kinds))]
            if kind == "commit-then-500" and method != "POST":
                kind = "500"
            if kind is not None:
                self.history.append({"class": cls, "method": method, "path": path, "kind": kind})
            return kind

    @property
    def slow_seconds(self):
        return self.config["slowMs"] / 1000.0

    @property
    def retry_after(self):
        return str(self.config["retryAfter"])

    def apply_to_raw(self, handler, cls):
        """For plain proxies (the S3 gate): drop, slow or answer an error. True if answered."""
        kind = self.decide(cls, handler.command, handler.path.split("?")[0])
        if kind is None or kind in ("stuck-job", "commit-then-500"):
            return False
        if kind == "slow":
            import time
            time.sleep(self.slow_seconds)
            return False
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        if kind == "drop":
            drop_connection(handler)
            return True
        status, with_retry_after = STATUS_KINDS.get(kind, (503, True))
        body = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                + (b"SlowDown" if status in (429, 503) else b"InternalError")
                + b"</Code><Message>Injected fault</Message></Error>")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(len(body)))
        if with_retry_after:
            handler.send_header("Retry-After", self.retry_after)
        handler.end_headers()
        handler.wfile.write(body)
        return True


def drop_connection(handler):
    """Close the socket without a single byte of answer."""
    import socket
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
