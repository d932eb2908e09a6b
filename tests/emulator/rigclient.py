"""Start a rig for a test file and talk to the emulator over real HTTP (urllib only)."""
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
RIG = os.path.join(os.path.dirname(HERE), "rig")


class Reply:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw

    @property
    def json(self):
        return json.loads(self.raw) if self.raw else None

    @property
    def text(self):
        return self.raw.decode("utf-8", "replace")


def http(method, url, body=None, headers=None, timeout=30):
    """One request; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.headers, exc.read())


def encode_form(fields):
    pairs = []
    for key, value in fields.items():
        if isinstance(value, list):
            pairs.extend((f"{key}[]", v) for v in value)
        else:
            pairs.append((key, value))
    return urllib.parse.urlencode(pairs).encode()


def encode_multipart(fields):
    boundary = "kbsyncd" + uuid.uuid4().hex
    chunks = []
    for key, value in fields.items():
        for name, item in ([(f"{key}[]", v) for v in value] if isinstance(value, list)
                           else [(key, value)]):
            chunks.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                          f"{item}\r\n".encode())
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


class Rig:
    """tests/rig/up PROVIDER in a private temporary dir; .close() runs tests/rig/down."""

    def __init__(self, provider, *options, env=None):
        self.dir = tempfile.mkdtemp(prefix=f"kbsyncd-emutest-{provider}-")
        run_env = dict(os.environ, KBSYNCD_RIG_DIR=self.dir, **(env or {}))
        started = subprocess.run([os.path.join(RIG, "up"), provider, *options], env=run_env,
                                 capture_output=True, text=True, timeout=90)
        if started.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"rig up failed:\n{started.stderr}")
        self.env = {}
        for line in started.stdout.splitlines():
            key, _, value = line[len("export "):].partition("=")
            self.env[key] = shlex.split(value)[0]
        self.url = self.env["KBC_STORAGE_API_HOST"]
        self.token = self.env["KBC_STORAGE_API_TOKEN"]
        self.provider = provider

    def close(self):
        subprocess.run([os.path.join(RIG, "down"), self.dir], timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- Storage API -------------------------------------------------------
    def api(self, method, path, body=None, token=None, encoding="json", query=None, headers=None):
        """Call /v2/storage/<path>; body as JSON (default), "form" or "multipart"."""
        url = f"{self.url}/v2/storage/{path}".rstrip("/")
        if query:
            url += "?" + urllib.parse.urlencode(query)
        all_headers = {"X-StorageApi-Token": self.token if token is None else token}
        if token == "":
            del all_headers["X-StorageApi-Token"]
        data = None
        if body is not None:
            if encoding == "json":
                data, all_headers["Content-Type"] = json.dumps(body).encode(), "application/json"
            elif encoding == "form":
                data = encode_form(body)
                all_headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data, all_headers["Content-Type"] = encode_multipart(body)
        all_headers.update(headers or {})
        return http(method, url, data, all_headers)

    def wait_job(self, job, deadline_s=20):
        """Poll a job until success/error (50 ms doubling, capped), like a real client."""
        delay, end = 0.02, time.monotonic() + deadline_s
        while time.monotonic() < end:
            reply = self.api("GET", f"jobs/{job['id']}")
            if reply.status == 200 and reply.json["status"] in ("success", "error"):
                return reply.json
            time.sleep(delay)
            delay = min(delay * 2, 0.3)
        raise TimeoutError(f"job {job['id']} did not finish in {deadline_s} s")

    # --- emulator-only ----------------------------------------------------
    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        return http(method, f"{self.url}/_emulator/{path}", data,
                    {"Content-Type": "application/json"} if data else {})

    def reset(self):
        return self.control("POST", "reset")

    def dump(self, table_id):
        return http("GET", f"{self.url}/_emulator/tables/{table_id}.csv").text

    def create_bucket(self, name):
        reply = self.api("POST", "buckets", {"name": name, "stage": "in"})
        if reply.status != 201:
            raise RuntimeError(f"bucket create: {reply.status} {reply.text}")
        return reply.json["id"]

    def prepare(self, name, **extra):
        body = {"name": name, "federationToken": True, "isEncrypted": True}
        body.update(extra)
        reply = self.api("POST", "files/prepare", body)
        if reply.status != 201:
            raise RuntimeError(f"prepare: {reply.status} {reply.text}")
        return reply.json
