#!/usr/bin/env python3
"""The watcher as the daemon runs it (docs/watcher.md, docs/configuration.md):

- `watcher = "poll"` with `poll_interval_ms`: the daemon says it polls, and
  a change made after the start is picked up and loaded;
- the watched folder moved away while the daemon runs on inotify:
  `watch_fallback` (WARN, with the reason) and `scan_failed` (ERROR) for the
  rescan that finds nothing; the daemon keeps running and,
  once the folder is back, a change in it is loaded by polling;
- `watch_dir` missing at start: `watch_dir_missing` (ERROR) and exit code 2."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402


def poll_mode(t, rig):
    d = Daemon(rig, settle_ms=100, extra='watcher = "poll", poll_interval_ms = 200,')
    d.write("polled/a.csv", "id\n1\n")
    d.start()
    t.ok(wait_until(lambda: rig.table_rows("in.c-polled.a") == [["id"], ["1"]], 30),
         "poll: the first sync loads the file", d.tail())
    line = (d.log_lines("watching") or [""])[0]
    t.ok("backend=poll" in line, "poll: the daemon logs that it polls", line)
    t.ok(wait_until(lambda: d.quiet() and (d.status_json() or {}).get("watcher") == "poll", 30),
         "poll: status.json names the poll watcher", d.status_json())
    d.write("polled/a.csv", "id\n1\n2\n", atomic=True)
    d.write("polled/b.csv", "k\nx\n")
    t.ok(wait_until(lambda: rig.table_rows("in.c-polled.a") == [["id"], ["1"], ["2"]], 30),
         "poll: an edit after the start is picked up", d.tail())
    t.ok(wait_until(lambda: rig.table_rows("in.c-polled.b") == [["k"], ["x"]], 30),
         "poll: a new file after the start is picked up", d.tail())
    rc, _ = d.stop()
    t.ok(rc == 0, "poll: TERM exits 0", d.tail())


def fallback(t, rig):
    d = Daemon(rig, settle_ms=100, extra='watcher = "inotify", poll_interval_ms = 200,')
    d.write("moved/a.csv", "id\n1\n")
    d.start()
    if not t.ok(wait_until(lambda: rig.table_rows("in.c-moved.a") == [["id"], ["1"]], 30),
                "fallback: the first sync loads the file", d.tail()):
        d.stop()
        return
    t.ok("backend=inotify" in (d.log_lines("watching") or [""])[0], "fallback: it starts on inotify",
         d.log_lines("watching"))
    aside = d.watch + ".aside"
    os.rename(d.watch, aside)
    t.ok(d.wait_log("watch_fallback", level="WARN", timeout=20),
         "fallback: the watched folder moved away gives watch_fallback WARN", d.tail())
    line = (d.log_lines("watch_fallback") or [""])[0]
    t.ok("reason=" in line and "action=" in line, "fallback: the WARN gives the reason and an action", line)
    # The rescan that follows finds no folder to list.
    t.ok(d.wait_log("scan_failed", level="ERROR", timeout=20)
         and f"dir={d.watch}" in d.log_lines("scan_failed")[0] and "action=" in d.log_lines("scan_failed")[0],
         "fallback: the folder gone, the rescan is an ERROR scan_failed naming it", d.tail())
    t.ok(d.proc.poll() is None, "fallback: the daemon keeps running", d.tail())
    os.rename(aside, d.watch)
    d.write("moved/a.csv", "id\n1\n2\n", atomic=True)
    t.ok(wait_until(lambda: rig.table_rows("in.c-moved.a") == [["id"], ["1"], ["2"]], 30),
         "fallback: with the folder back, a change is loaded by polling", d.tail())
    rc, _ = d.stop()
    t.ok(rc == 0, "fallback: TERM exits 0", d.tail())


def dir_missing(t, rig):
    d = Daemon(rig, settle_ms=100)
    os.rmdir(d.watch)
    d.start()
    try:
        rc = d.proc.wait(timeout=30)
    except Exception:  # still running: that is the failure reported below
        rc = None
    t.ok(rc == 2, f"watch_dir missing: run exits 2 (got {rc})", d.tail())
    lines = d.log_lines("watch_dir_missing", level="ERROR")
    t.ok(lines and f"dir={d.watch}" in lines[0] and "action=" in lines[0],
         "watch_dir missing: an ERROR names the folder and what to do", d.tail())
    t.ok(not os.path.exists(d.watch), "watch_dir missing: the folder is not created behind the user's back")


def main():
    t = Tap()
    rig = Rig("gcp")
    for part in (poll_mode, fallback, dir_missing):
        try:
            part(t, rig)
        except Exception as exc:  # a crash of one part is a failure, the others still run
            t.ok(False, f"{part.__name__}: ran to its end", repr(exc))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
