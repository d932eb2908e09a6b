#!/usr/bin/env python3
"""Link simulator: a TCP proxy that makes loopback behave like a real uplink.

    linksim.py --target http://127.0.0.1:PORT --spec SPEC --log FILE --ready-file FILE

Listens on a free loopback port and forwards every connection to the target,
byte for byte (TLS passes through untouched).  SPEC is a comma-separated list
of key=value (tests/emulator/README.md, "Link simulator"):

  rate=B          bytes/s per connection, client to server (the uplink)
  total_rate=B    bytes/s over all connections together, client to server
  down_rate=B     bytes/s per connection, server to client (default: none)
  latency_ms=N    one-way delay added to every chunk, both directions
  cut_after=N     reset a connection once N bytes went up it (0 = never)
  cut_jitter=N    add a seeded random 0..N bytes to each connection's cut point
  cuts=K          connections cut at most (default 1)
  seed=S          seed for cut_jitter (default 0)
  rewrite_location=1  answers' Location headers naming the target name the
                  proxy instead (the emulator's GCS API hands out absolute
                  session URLs)

The log has one JSON line per HTTP request seen going up (the proxy reads
request heads and Content-Length only): conn, seq, method, path (query keys
that identify a part, never a signature), start and end (time.time() of its
first and last byte forwarded), bytes (head + body forwarded to the server),
body, length (its Content-Length), complete, cut.  A request's line is
written when its last byte went through or its connection ended.
"""
import argparse
import json
import os
import queue
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse

PIECE = 16 * 1024  # shaping granularity: small enough to share a total rate fairly
# Query keys worth logging: they name a part, block or session, not a secret.
KEPT_QUERY = ("partNumber", "uploadId", "comp", "blockid", "uploadType", "upload_id", "uploads")


def parse_spec(text):
    spec = {"rate": 0, "total_rate": 0, "down_rate": 0, "latency_ms": 0, "cut_after": 0,
            "cut_jitter": 0, "cuts": 1, "seed": 0, "rewrite_location": 0}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in spec:
            raise ValueError(f"link spec: unknown or malformed item {item!r} "
                             f"(known: {', '.join(sorted(spec))})")
        try:
            spec[key] = int(value.replace("_", ""))
        except ValueError:
            raise ValueError(f"link spec: {key} wants an integer, got {value!r}") from None
        if spec[key] < 0:
            raise ValueError(f"link spec: {key} must not be negative")
    return spec


SLACK_S = 0.05  # credit a rate limit keeps for time.sleep's overshoot and the copying


class Bucket:
    """A rate limit: take(n) returns once n more bytes fit in rate bytes/s.

    Time lost beyond the schedule (a sleep that overshot, the copying
    between two takes, the GIL) is made up from a credit of up to SLACK_S:
    without it every piece lost its overshoot and a 5 MB/s link carried
    about 4.5 MB/s (8 connections under a 40 MB/s total: about 30 MB/s).
    The credit is also the largest burst after an idle spell (250 KB at
    5 MB/s)."""

    def __init__(self, rate):
        self.rate = rate
        self.next_free = 0.0
        self.lock = threading.Lock()

    def take(self, n):
        if not self.rate:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now - SLACK_S, self.next_free)
            self.next_free = start + n / self.rate
            wait = self.next_free - now
        if wait > 0:
            time.sleep(wait)


def safe_path(target):
    parts = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k in KEPT_QUERY]
    return parts.path + ("?" + urllib.parse.urlencode(kept) if kept else "")


class RequestTracker:
    """Follows HTTP requests in the bytes going up one connection."""

    def __init__(self, link, conn_id):
        self.link, self.conn_id = link, conn_id
        self.head = b""
        self.current = None
        self.remaining = 0
        self.opaque = False  # chunked or unparsable: the rest is one record

    def feed(self, data):
        now = time.time()
        while data:
            if self.current is None:  # between requests: reading a head
                if self.opaque:
                    return
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.head) > 65536:
                        self._start(b"? ? HTTP", now, len(self.head))
                        self.opaque, self.head = True, b""
                    return
                head, data = self.head[:end + 4], self.head[end + 4:]
                self.head = b""
                self._start(head, now, len(head))
                if self.remaining == 0 and not self.opaque:
                    self._finish(now)
                continue
            take = len(data) if self.opaque else min(self.remaining, len(data))
            self.current["bytes"] += take
            self.current["body"] += take
            self.current["end"] = now
            data = data[take:]
            if not self.opaque:
                self.remaining -= take
                if self.remaining == 0:
                    self._finish(now)

    def _start(self, head, now, size):
        lines = head.split(b"\r\n")
        words = lines[0].decode("latin-1").split(" ")
        length, chunked = 0, False
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip() or 0)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        self.current = {"conn": self.conn_id, "seq": self.link.next_seq(),
                        "method": words[0], "path": safe_path(words[1]) if len(words) > 1 else "",
                        "start": now, "end": now, "bytes": size, "body": 0, "length": length,
                        "complete": False, "cut": False}
        self.remaining = length
        self.opaque = chunked

    def _finish(self, now):
        self.current["complete"] = True
        self.current["end"] = now
        self.link.write_record(self.current)
        self.current = None

    def close(self, cut):
        if self.current is not None:
            self.current["cut"] = cut
            self.link.write_record(self.current)
        self.current = None


class LocationRewriter:
    """Rewrites Location headers in the answers coming down one connection.

    Parses answer heads and skips bodies by Content-Length; an answer it
    cannot frame (chunked, no length) ends the rewriting for that connection.
    """

    def __init__(self, old, new):
        self.old, self.new = old.encode(), new.encode()
        self.buffer = b""
        self.remaining = 0
        self.passthrough = False

    def feed(self, data):
        if self.passthrough:
            return data
        out = []
        while data:
            if self.remaining:
                take = min(self.remaining, len(data))
                out.append(data[:take])
                data, self.remaining = data[take:], self.remaining - take
                continue
            self.buffer += data
            data = b""
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    out.append(self.buffer)
                    self.buffer, self.passthrough = b"", True
                break
            head, data = self.buffer[:end + 4], self.buffer[end + 4:]
            self.buffer = b""
            lines = head.split(b"\r\n")
            status = lines[0].split(b" ")
            length = None
            for i, line in enumerate(lines):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"location":
                    lines[i] = name + b": " + value.strip().replace(self.old, self.new, 1)
                elif name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            out.append(b"\r\n".join(lines))
            code = status[1] if len(status) > 1 else b""
            if code.startswith(b"1") or code in (b"204", b"304"):
                continue
            if length is None:
                out.append(data)
                self.passthrough = True
                break
            self.remaining = length
        return b"".join(out)


class Link:
    def __init__(self, spec, target_host, target_port, log_path, rewrite):
        self.spec = spec
        self.target = (target_host, target_port)
        self.total = Bucket(spec["total_rate"])
        self.rng = random.Random(spec["seed"])
        self.lock = threading.Lock()
        self.seq = 0
        self.conns = 0
        self.cuts_done = 0
        self.log = open(log_path, "a", buffering=1) if log_path else None
        self.rewrite = rewrite  # (old, new) or None

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def write_record(self, record):
        if self.log:
            with self.lock:
                self.log.write(json.dumps(record) + "\n")

    def claim_cut(self):
        with self.lock:
            if self.cuts_done >= self.spec["cuts"]:
                return False
            self.cuts_done += 1
            return True

    def serve(self, listener):
        while True:
            client, _ = listener.accept()
            with self.lock:
                self.conns += 1
                conn_id = self.conns
                cut_at = 0
                if self.spec["cut_after"]:
                    cut_at = self.spec["cut_after"] + (
                        self.rng.randint(0, self.spec["cut_jitter"]) if self.spec["cut_jitter"] else 0)
            threading.Thread(target=Connection(self, conn_id, client, cut_at).run,
                             daemon=True).start()


class Connection:
    def __init__(self, link, conn_id, client, cut_at):
        self.link, self.conn_id, self.client, self.cut_at = link, conn_id, client, cut_at
        self.server = None
        self.up_bytes = 0
        self.cut = False
        self.closed = threading.Event()
        self.tracker = RequestTracker(link, conn_id)

    def run(self):
        try:
            self.server = socket.create_connection(self.link.target, timeout=10)
            self.server.settimeout(None)
        except OSError:
            self.client.close()
            return
        for sock in (self.client, self.server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        spec = self.link.spec
        up_q, down_q = queue.Queue(), queue.Queue()
        rewriter = LocationRewriter(*self.link.rewrite) if self.link.rewrite else None
        threads = [
            threading.Thread(target=self.read, args=(self.client, up_q), daemon=True),
            threading.Thread(target=self.read, args=(self.server, down_q), daemon=True),
            threading.Thread(target=self.write, daemon=True,
                             args=(up_q, self.server, Bucket(spec["rate"]), True, None)),
            threading.Thread(target=self.write, daemon=True,
                             args=(down_q, self.client, Bucket(spec["down_rate"]), False, rewriter)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads[2:]:
            thread.join()
        self.tracker.close(self.cut)
        for sock in (self.client, self.server):
            try:
                sock.close()
            except OSError:
                pass

    def read(self, sock, out):
        while not self.closed.is_set():
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            out.put((time.monotonic(), data))
            if not data:
                return

    def write(self, source, dest, bucket, upward, rewriter):
        latency = self.link.spec["latency_ms"] / 1000.0
        while True:
            arrived, data = source.get()
            if self.closed.is_set():
                return
            delay = arrived + latency - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not data:
                try:
                    dest.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if rewriter:
                data = rewriter.feed(data)
            for start in range(0, len(data), PIECE):
                piece = data[start:start + PIECE]
                if upward:
                    bucket.take(len(piece))
                    self.link.total.take(len(piece))
                    if self.cut_at and self.up_bytes + len(piece) >= self.cut_at \
                            and self.link.claim_cut():
                        piece = piece[:self.cut_at - self.up_bytes]
                        self._send(dest, piece, upward)
                        self._reset()
                        return
                else:
                    bucket.take(len(piece))
                if not self._send(dest, piece, upward):
                    self.closed.set()
                    return

    def _send(self, dest, piece, upward):
        try:
            dest.sendall(piece)
        except OSError:
            return False
        if upward:
            self.up_bytes += len(piece)
            self.tracker.feed(piece)
        return True

    def _reset(self):
        """Drop both sides with a TCP reset, as a lost link does to the client."""
        self.cut = True
        self.closed.set()
        for sock in (self.client, self.server):
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="http://HOST:PORT to forward to")
    parser.add_argument("--spec", default="")
    parser.add_argument("--log", help="append one JSON line per request here")
    parser.add_argument("--ready-file", help="write the proxy's URL here once listening")
    args = parser.parse_args(argv)
    try:
        spec = parse_spec(args.spec)
    except ValueError as exc:
        sys.exit(str(exc))
    target = urllib.parse.urlsplit(args.target)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    url = f"{target.scheme}://127.0.0.1:{listener.getsockname()[1]}"
    origin = f"{target.scheme}://{target.hostname}:{target.port}"
    rewrite = (origin, url) if spec["rewrite_location"] else None
    link = Link(spec, target.hostname, target.port, args.log, rewrite)
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as handle:
            handle.write(url)
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(f"linksim {url} -> {origin} {json.dumps(spec)}", flush=True)
    link.serve(listener)


def start(rig_dir, name, target, spec_text, timeout):
    """Start a simulator (a rig process) in front of target; its URL and log path."""
    import riglib
    try:
        parse_spec(spec_text)  # a bad spec fails `up` here, with the reason
    except ValueError as exc:
        raise RuntimeError(f"{name}: {exc}") from None
    ready = os.path.join(rig_dir, f"{name}.url")
    log = os.path.join(rig_dir, f"{name}.jsonl")
    if os.path.exists(ready):
        os.unlink(ready)
    process = riglib.spawn(rig_dir, name, [sys.executable, os.path.abspath(__file__),
                                           "--target", target, "--spec", spec_text,
                                           "--log", log, "--ready-file", ready])
    riglib.wait_until(lambda: os.path.exists(ready), process, timeout, name)
    with open(ready) as handle:
        return handle.read().strip(), log


def from_env(rig_dir, name, target, variable, timeout, extra=""):
    """target behind a simulator when $variable holds a spec: (url, log), else (target, None)."""
    spec_text = os.environ.get(variable, "").strip()
    if not spec_text:
        return target, None
    return start(rig_dir, name, target, ",".join(filter(None, [spec_text, extra])), timeout)


def wrap(rig_dir, info, timeout):
    """Put simulators in front of what `up` started, as KBSYNCD_LINK_STORAGE and
    KBSYNCD_LINK_API ask; returns the exports that change (Azurite's was
    wrapped before the emulator started, see storage_before_emulator)."""
    changed = {}
    provider = info["provider"]
    if provider == "aws" and "connectTo" in info:  # production hosts: TLS passes through
        host, port, to_host, to_port = info["connectTo"][0].rsplit(":", 3)
        url, log = from_env(rig_dir, "link-storage", f"http://{to_host}:{to_port}",
                            "KBSYNCD_LINK_STORAGE", timeout)
        if log:
            info["connectTo"] = [f"{host}:{port}:127.0.0.1:{url.rsplit(':', 1)[1]}"]
            changed["KBSYNCD_LINK_STORAGE_LOG"] = log
    elif provider in ("aws", "gcp"):
        key = "s3Endpoint" if provider == "aws" else "gcsEndpoint"
        # The emulator's GCS sessions are absolute URLs on its own port.
        url, log = from_env(rig_dir, "link-storage", info[key], "KBSYNCD_LINK_STORAGE", timeout,
                            "rewrite_location=1" if provider == "gcp" else "")
        if log:
            info[key] = url
            changed["KBSYNCD_LINK_STORAGE_LOG"] = log
    url, log = from_env(rig_dir, "link-api", info["apiUrl"], "KBSYNCD_LINK_API", timeout)
    if log:
        # The emulator's own URL (KBSYNCD_EMULATOR_URL) stays direct for test controls.
        changed["KBC_STORAGE_API_HOST"] = url
        changed["KBSYNCD_LINK_API_LOG"] = log
    return changed


def storage_before_emulator(rig_dir, provider, target, timeout):
    """Azurite's URL as the emulator should hand it out (the SAS connection string)."""
    if provider != "azure":
        return target, {}
    url, log = from_env(rig_dir, "link-storage", target, "KBSYNCD_LINK_STORAGE", timeout)
    return url, ({"KBSYNCD_LINK_STORAGE_LOG": log} if log else {})


def read_log(path):
    """The request records of a simulator's log (tests)."""
    try:
        with open(path) as handle:
            return [json.loads(line) for line in handle if line.endswith("\n")]
    except FileNotFoundError:
        return []


def max_in_flight(records, min_body=1):
    """Most requests carrying at least min_body bytes up at the same moment."""
    edges = []
    for record in records:
        if record["body"] >= min_body:
            edges += [(record["start"], 1), (record["end"], -1)]
    best = now = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        now += step
        best = max(best, now)
    return best


if __name__ == "__main__":
    main(sys.argv[1:])
