#!/usr/bin/env python3
"""ERROR and WARN lines of docs/troubleshooting.md that a user can meet,
each produced for real against the gcp rig:

- `table_name_invalid` / `bucket_name_invalid`: names with no usable
  character; nothing is created for them, other files load;
- `header_invalid` for a name webalize turns into a system column, and
  `webalize_failed` when the webalize call itself fails (retried);
- `bucket_failed`: a token without the right to create buckets;
- `keboola_unreachable`: `once` gives up after `once_timeout_s` with exit 4
  (ERROR), `run` keeps retrying (WARN) and stops cleanly on TERM;
- `watch_overflow`: the documented test hook injects an overflow; the
  WARN is logged and the rescan still finds a change;
- `upload_credentials_refused`: GCS refuses the upload token (it expired
  at once); the file is prepared again, and loaded once tokens live again;
- `reload_ignored`: HUP sent to `kbsyncd check` while it talks to Keboola."""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402


def closed_port():
    """A local port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def names_invalid(t, rig):
    d = Daemon(rig, settle_ms=100)
    d.write("names/___.csv", "id\n1\n")
    d.write("names/good.csv", "id\n2\n")
    d.write("___/x.csv", "id\n3\n")
    d.start()
    t.ok(wait_until(lambda: rig.table_rows("in.c-names.good") == [["id"], ["2"]], 30),
         "names: a valid file beside the invalid ones loads", d.tail())
    t.ok(d.wait_log("table_name_invalid", level="ERROR", timeout=20)
         and "file=names/___.csv" in d.log_lines("table_name_invalid")[0],
         "names: a file name with no usable character is an ERROR table_name_invalid", d.tail())
    t.ok(d.wait_log("bucket_name_invalid", level="ERROR", timeout=20),
         "names: a folder name with no usable character is an ERROR bucket_name_invalid", d.tail())
    t.ok(wait_until(d.quiet, 30), "names: quiet afterwards", d.status_json())
    t.ok(set(rig.tables()) == {"in.c-names.good"} and rig.buckets() == {"in.c-names"},
         "names: nothing is created for the invalid names", (sorted(rig.buckets()), sorted(rig.tables())))
    rc, _ = d.stop()
    t.ok(rc == 0, "names: TERM exits 0", d.tail())


def webalize_refused(t, rig):
    # Staging cannot transliterate a non-ASCII name, so Keboola's webalize is
    # asked.  It answers 200 whatever the name (as Keboola does since 2024):
    # a name that ends up as a system column is refused by kbsyncd itself,
    # as header_invalid naming the column.  webalize_failed is the call
    # itself failing: with the endpoint down, the load is retried (class
    # remote) and goes through once it is back.
    d = Daemon(rig, settle_ms=100, extra="retry = { base_ms = 50, cap_ms = 200, max_attempts = 2 },")
    d.write("webal/bad.csv", "id,\u010dtid\n1,x\n")
    d.write("webal/good.csv", "id\n1\n")
    rig.faults(script=[{"class": "webalize", "kind": "500", "count": 4}])
    d.write("webal/later.csv", "id,n\u00e1zev\n1,x\n")
    d.start()
    t.ok(d.wait_log("header_invalid", level="ERROR", timeout=30),
         "webalize: a name that webalizes to a system column is an ERROR header_invalid", d.tail())
    line = "\n".join(d.log_lines("header_invalid"))
    t.ok("file=webal/bad.csv" in line and "column 2" in line and "action=" in line,
         "webalize: the ERROR names the file, the column and what to do", line)
    event = "webalize_failed"
    t.ok(wait_until(lambda: any(f"event={event}" in x for x in d.log_lines("load_retry", level="WARN")), 30),
         "webalize: the call failing is a WARN load_retry with event=webalize_failed", d.tail())
    wf = "\n".join(x for x in d.log_lines("load_retry") if f"event={event}" in x)
    t.ok("class=remote" in wf and "retry_in_ms=" in wf, "webalize: a failed call is class remote, retried", wf)
    t.ok(wait_until(lambda: rig.table_rows("in.c-webal.good") == [["id"], ["1"]], 30)
         and wait_until(lambda: rig.table_rows("in.c-webal.later") is not None, 30)
         and "in.c-webal.bad" not in rig.tables(),
         "webalize: the other files load (the retried one too), the refused one makes no table",
         sorted(rig.tables()))
    rc, _ = d.stop()
    t.ok(rc == 0, "webalize: TERM exits 0", d.tail())
    rig.faults(script=[], rate=0)


def bucket_refused(t, rig):
    d = Daemon(rig, settle_ms=100)
    d.start(KBC_STORAGE_API_TOKEN=rig.env["KBSYNCD_TOKEN_NO_MANAGE"])
    t.ok(d.wait_log("connected", timeout=30), "bucket: the daemon connects with the limited token", d.tail())
    os.makedirs(d.path("nomanage"))
    d.write("nomanage/a.csv", "id\n1\n")
    t.ok(d.wait_log("bucket_failed", level="ERROR", timeout=30),
         "bucket: a token that may not create buckets gives an ERROR bucket_failed", d.tail())
    line = (d.log_lines("bucket_failed") or [""])[0]
    t.ok("nomanage" in line and "action=" in line, "bucket: the ERROR names the folder and what to do", line)
    t.ok(not [b for b in rig.buckets() if "nomanage" in b], "bucket: no bucket was created", sorted(rig.buckets()))
    t.ok(d.proc.poll() is None, "bucket: the daemon keeps running", d.tail())
    rc, _ = d.stop()
    t.ok(rc == 0, "bucket: TERM exits 0", d.tail())


def unreachable(t, rig):
    d = Daemon(rig, settle_ms=100, extra="once_timeout_s = 2,")
    d.write("away/a.csv", "id\n1\n")
    host = f"http://127.0.0.1:{closed_port()}"
    try:
        r = d.once(KBC_STORAGE_API_HOST=host, timeout=30)
        rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:  # still retrying: reported as the failure below
        rc, err = None, "once still running after 30 s"
    t.ok(rc == 4, f"unreachable: once gives up after once_timeout_s and exits 4 (got {rc})",
         f"{err[-1000:]}\n{d.tail(8)}")
    t.ok(d.log_lines("keboola_unreachable", level="ERROR"),
         "unreachable: once logs an ERROR keboola_unreachable", d.tail(6))
    t.ok(err.strip() != "" and rc is not None, "unreachable: once says why on stderr", err[-1000:])
    t0 = time.monotonic()
    d.start(KBC_STORAGE_API_HOST=host)
    t.ok(d.wait_log("keboola_unreachable", level="WARN", timeout=15),
         "unreachable: run logs WARN keboola_unreachable while it retries", d.tail(6))
    # once_timeout_s is for `once` only: a second past it, run is still there.
    wait_until(lambda: d.proc.poll() is not None or time.monotonic() - t0 > 3, 10)
    t.ok(d.proc.poll() is None, "unreachable: run keeps retrying past once_timeout_s", d.tail(6))
    rc, _ = d.stop()
    t.ok(rc == 0, "unreachable: TERM exits 0 while retrying", d.tail(6))


def overflow(t, rig):
    d = Daemon(rig, settle_ms=100)
    d.write("flood/a.csv", "id\n1\n")
    d.start(KBSYNCD_TEST_OVERFLOW_AFTER_MS=1500)
    t.ok(wait_until(lambda: rig.table_rows("in.c-flood.a") == [["id"], ["1"]], 30),
         "overflow: first sync", d.tail())
    t.ok(d.wait_log("test_overflow_injected", timeout=20), "overflow: the hook injected an overflow", d.tail())
    t.ok(d.wait_log("watch_overflow", level="WARN", timeout=20),
         "overflow: the overflow is a WARN watch_overflow", d.tail())
    t.ok(d.wait_log("rescan", timeout=20), "overflow: it leads to a rescan", d.tail())
    d.write("flood/a.csv", "id\n1\n2\n", atomic=True)
    t.ok(wait_until(lambda: rig.table_rows("in.c-flood.a") == [["id"], ["1"], ["2"]], 30),
         "overflow: changes are still loaded afterwards", d.tail())
    rc, _ = d.stop()
    t.ok(rc == 0, "overflow: TERM exits 0", d.tail())


def credentials_refused(t, rig):
    d = Daemon(rig, settle_ms=100)
    rig.config(gcsTokenTtl=0)
    try:
        d.write("creds/a.csv", "id\n1\n")
        d.start()
        t.ok(d.wait_log("upload_credentials_refused", level="WARN", timeout=30),
             "credentials: an expired upload token gives WARN upload_credentials_refused", d.tail())
        line = (d.log_lines("upload_credentials_refused") or [""])[0]
        t.ok("file_id=" in line and "action=" in line, "credentials: the WARN names the file and what happens", line)
        t.ok(d.wait_log("load_retry", level="WARN", timeout=30),
             "credentials: still refused after a new prepare: the load is retried, not failed", d.tail())
        t.ok(rig.table_rows("in.c-creds.a") is None, "credentials: nothing is loaded meanwhile")
    finally:
        rig.config(gcsTokenTtl=3599)
    t.ok(wait_until(lambda: rig.table_rows("in.c-creds.a") == [["id"], ["1"]], 30),
         "credentials: the load succeeds once tokens are valid again", d.tail())
    rc, _ = d.stop()
    t.ok(rc == 0, "credentials: TERM exits 0", d.tail())


def sig_mask(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1], 16)
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


def reload_ignored(t, rig):
    d = Daemon(rig, settle_ms=100)
    # Hold `check` on its first call so the HUP arrives while it runs.
    rig.faults(slowMs=3000, script=[{"method": "GET", "path": r"/tokens/verify$", "kind": "slow", "count": 1}])
    p = subprocess.Popen(d.argv("check"), env=d.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        hup = 1 << (signal.SIGHUP - 1)
        # HUP is taken by the process once it blocks or catches it.
        handled = wait_until(lambda: (sig_mask(p.pid, "SigBlk") | sig_mask(p.pid, "SigCgt")) & hup, 10, 0.02)
        t.ok(handled, "reload_ignored: check takes HUP")
        if handled:
            p.send_signal(signal.SIGHUP)
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    t.ok(d.wait_log("reload_ignored", level="WARN", timeout=10) or "reload_ignored" in out,
         "reload_ignored: HUP to check is a WARN reload_ignored", (out[-1500:], d.tail()))
    t.ok(p.returncode == 0, f"reload_ignored: check still finishes with exit 0 (got {p.returncode})", out[-1500:])
    rig.faults(script=[])


def main():
    t = Tap()
    rig = Rig("gcp")
    for part in (names_invalid, webalize_refused, bucket_refused, unreachable, overflow, credentials_refused, reload_ignored):
        try:
            part(t, rig)
        except Exception as exc:  # a crash of one part is a failure, the others still run
            t.ok(False, f"{part.__name__}: ran to its end", repr(exc))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
