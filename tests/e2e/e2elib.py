"""Shared helpers of the end-to-end tests: a rig, a daemon, polling, TAP.

Every test file starts its own rig (tests/rig/up) and temporary folders and
removes both on every exit path (normal end, exception, SIGTERM/SIGINT).
Nothing here sleeps for a fixed time to "let things happen": tests poll a
condition until a deadline.

Environment: KBSYNCD_BIN (the binary under test; default build/kbsyncd),
KBSYNCD_SCRIPTS (optional: a Lua scripts folder passed as --scripts).
"""
import atexit
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RIG = os.path.join(ROOT, "tests", "rig")
BIN = os.environ.get("KBSYNCD_BIN") or os.path.join(ROOT, "build", "kbsyncd")
# ASan builds are slower: stretch every deadline.
SLOW = 3.0 if os.environ.get("KBSYNCD_ASAN") == "1" or "asan" in BIN else 1.0


class Tap:
    """TAP on stdout: ok/not ok lines numbered from 1, then the plan.

    A check that cannot run here is skip(desc, reason), never ok(True, ...);
    a file with nothing to check here calls skip_all(reason) instead of done().
    done() fails a file that checked nothing (a loop that never ran)."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.skipped_all = None

    def ok(self, cond, desc, diag=None):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {desc}", flush=True)
        if not cond:
            self.failed += 1
            if diag:
                for line in str(diag).splitlines()[-40:]:
                    print(f"#   {line}", flush=True)
        return cond

    def diag(self, msg):
        print(f"# {msg}", flush=True)

    def skip(self, desc, reason):
        if not reason:
            raise ValueError("a skip needs a reason")
        self.n += 1
        print(f"ok {self.n} - {desc} # SKIP {reason}", flush=True)

    def skip_all(self, reason):
        """Prints "1..0 # SKIP reason"; returns the exit code (0)."""
        if not reason or self.n:
            raise ValueError("skip_all needs a reason and comes before any check")
        self.skipped_all = reason
        print(f"1..0 # SKIP {reason}", flush=True)
        return 0

    def done(self):
        """Prints the plan; returns the exit code: 1 when a check failed or none ran."""
        if self.skipped_all is not None and self.n == 0:
            return 0
        print(f"1..{self.n}", flush=True)
        if self.n == 0:
            print("# no checks ran", flush=True)
        return 1 if self.failed or self.n == 0 else 0


def wait_until(fn, timeout, interval=0.1):
    """Poll fn() until it returns something truthy; returns it, or None at the deadline."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def http(method, url, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class EmulatorError(RuntimeError):
    """The emulator answered a query with an error status."""


def _expect_200(method, path, status, body):
    if status != 200:
        raise EmulatorError(f"{method} {path}: HTTP {status} {body[:300]!r}")


def parse_csv(text):
    return [row for row in csv.reader(io.StringIO(text))]


_cleanups = []


def _run_cleanups(*_):
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as exc:  # cleanup must go on
            print(f"# cleanup: {exc}", flush=True)


def _on_signal(signo, _frame):
    _run_cleanups()
    sys.exit(128 + signo)


atexit.register(_run_cleanups)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def on_exit(fn):
    _cleanups.append(fn)


class Rig:
    """tests/rig/up PROVIDER in a private rig dir; down at exit."""

    def __init__(self, provider, **env):
        self.provider = provider
        self.dir = tempfile.mkdtemp(prefix=f"kbsyncd-e2e-rig-{provider}-")
        self.env = {}
        e = dict(os.environ, KBSYNCD_RIG_DIR=self.dir)
        e.update({k: str(v) for k, v in env.items()})
        on_exit(self.down)
        out = subprocess.run([os.path.join(RIG, "up"), provider], env=e, capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"rig up {provider} failed: {out.stderr[-2000:]}")
        for line in out.stdout.splitlines():
            m = re.match(r"export (\w+)=(.*)$", line)
            if m:
                value = m.group(2)
                if value.startswith("'") and value.endswith("'"):
                    value = value[1:-1]
                self.env[m.group(1)] = value
        self.url = self.env["KBSYNCD_EMULATOR_URL"]
        self.token = self.env["KBC_STORAGE_API_TOKEN"]

    def down(self):
        if self.dir:
            subprocess.run([os.path.join(RIG, "down"), self.dir], capture_output=True, timeout=60)
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # emulator views -------------------------------------------------------
    # Each raises EmulatorError when the emulator does not answer 200, so a
    # check such as "no table was created" cannot pass because the emulator
    # failed.  table_rows alone answers None: for 404, the table is absent.
    def table_rows(self, table_id):
        """The table's rows (header first), or None when it does not exist."""
        status, body = http("GET", f"{self.url}/_emulator/tables/{table_id}.csv")
        if status == 404:
            return None
        _expect_200("GET", f"/_emulator/tables/{table_id}.csv", status, body)
        return parse_csv(body.decode("utf-8"))

    def api(self, path):
        status, body = http("GET", f"{self.url}{path}", headers={"X-StorageApi-Token": self.token})
        _expect_200("GET", path, status, body)
        return json.loads(body)

    def buckets(self):
        return {b["id"] for b in self.api("/v2/storage/buckets")}

    def tables(self):
        return {t["id"]: t for t in self.api("/v2/storage/tables?include=columns")}

    def requests(self, since=0):
        status, body = http("GET", f"{self.url}/_emulator/requests?since={since}")
        _expect_200("GET", f"/_emulator/requests?since={since}", status, body)
        return json.loads(body)["requests"]

    def last_seq(self):
        reqs = self.requests()
        return reqs[-1]["seq"] if reqs else 0

    def count(self, method, pattern, since=0):
        rx = re.compile(pattern)
        return sum(1 for r in self.requests(since) if r["method"] == method and rx.search(r["path"]))

    def config(self, **changes):
        """PUT /_emulator/config (jobPolls, features, gcsTokenTtl, revokedTokens)."""
        status, body = http("PUT", f"{self.url}/_emulator/config", json.dumps(changes).encode(),
                            {"Content-Type": "application/json"})
        if status != 200:
            raise RuntimeError(f"config: {status} {body[:200]}")

    def faults(self, **cfg):
        status, body = http("PUT", f"{self.url}/_emulator/faults", json.dumps(cfg).encode(),
                            {"Content-Type": "application/json"})
        if status != 200:
            raise RuntimeError(f"faults: {status} {body[:200]}")


class Daemon:
    """A watched folder, a state folder, a config and the daemon process."""

    def __init__(self, rig, settle_ms=200, extra="", grace_s=10):
        self.rig = rig
        self.base = tempfile.mkdtemp(prefix="kbsyncd-e2e-")
        if os.environ.get("KBSYNCD_E2E_KEEP") == "1":
            print(f"# keeping {self.base}", flush=True)
        else:
            on_exit(lambda: shutil.rmtree(self.base, ignore_errors=True))
        self.watch = os.path.join(self.base, "watch")
        self.state = os.path.join(self.base, "state")
        self.logfile = os.path.join(self.base, "kbsyncd.log")
        os.makedirs(self.watch)
        self.config = os.path.join(self.base, "config.lua")
        self.write_config(settle_ms, extra, grace_s)
        self.proc = None
        self.out = None
        on_exit(self.kill)

    def write_config(self, settle_ms=200, extra="", grace_s=10):
        with open(self.config, "w") as f:
            f.write(f"""return {{
  watch_dir = {json.dumps(self.watch)}, state_dir = {json.dumps(self.state)},
  settle_ms = {settle_ms}, shutdown_grace_s = {grace_s},
  log = {{ file = {json.dumps(self.logfile)}, level = "debug" }},
  jobs = {{ poll_initial_ms = 50, poll_cap_ms = 300 }},
  retry = {{ base_ms = 50, cap_ms = 1000 }},
  {extra}
}}
""")

    def argv(self, *args):
        argv = [BIN]
        if os.environ.get("KBSYNCD_SCRIPTS"):
            argv += ["--scripts", os.environ["KBSYNCD_SCRIPTS"]]
        return argv + list(args) + ["-c", self.config]

    def env(self, **extra):
        e = dict(os.environ)
        e.update(self.rig.env)
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def path(self, rel):
        return os.path.join(self.watch, rel)

    def write(self, rel, text, atomic=False, raw=None):
        """Write text (or the bytes `raw`); atomic: a hidden temp file renamed over."""
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        data = raw if raw is not None else text.encode("utf-8")
        if atomic:
            tmp = os.path.join(os.path.dirname(p), f".{os.path.basename(p)}.tmp{os.getpid()}")
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, p)
        else:
            with open(p, "wb") as f:
                f.write(data)

    def start(self, *args, **env):
        assert self.proc is None or self.proc.poll() is not None
        self.out = open(os.path.join(self.base, "stderr.txt"), "a")
        self.proc = subprocess.Popen(self.argv("run", *args), env=self.env(**env),
                                     stdout=self.out, stderr=subprocess.STDOUT)
        return self.proc

    def once(self, *args, timeout=120, **env):
        r = subprocess.run(self.argv("once", *args), env=self.env(**env), capture_output=True,
                           text=True, timeout=timeout * SLOW)
        return r

    def command(self, *args):
        return subprocess.run(self.argv(*args), env=self.env(), capture_output=True, text=True,
                              timeout=60)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signal the daemon; returns (exit code, seconds it took) or (None, timeout)."""
        if not self.proc or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None, time.monotonic() - t0
        return rc, time.monotonic() - t0

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_lines(self, event, level=None):
        rx = re.compile(r"^\S+ (\w+)\s+" + re.escape(event) + r"\b")
        out = []
        for line in self.log().splitlines():
            m = rx.match(line)
            if m and (level is None or m.group(1) == level):
                out.append(line)
        return out

    def wait_log(self, event, count=1, timeout=30, level=None):
        return wait_until(lambda: len(self.log_lines(event, level)) >= count, timeout)

    def status_json(self):
        try:
            with open(os.path.join(self.state, "status.json")) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return None

    def quiet(self):
        """The running daemon's own status.json says nothing is running, pending or settling."""
        s = self.status_json()
        return bool(s) and self.proc is not None and s.get("pid") == self.proc.pid \
            and s["counts"]["running"] == 0 and s["counts"]["pending"] == 0 \
            and s["counts"]["dirty"] == 0

    def spool_files(self):
        try:
            return os.listdir(os.path.join(self.state, "spool"))
        except FileNotFoundError:
            return []

    def state_json(self):
        try:
            with open(os.path.join(self.state, "state.json")) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return None

    def tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])
