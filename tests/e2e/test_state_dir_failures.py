#!/usr/bin/env python3
"""state.json or status.json that cannot be written while the daemon runs
(docs/engine.md, docs/troubleshooting.md):

- status.json replaced by a directory: `status_write_failed` (WARN), loads
  go on, and status.json is written again at the next change once the way
  is clear;
- state.json replaced by a directory: `state_save_failed` (ERROR), the load
  still reaches Keboola, the daemon keeps running, and the next change
  after the way is clear writes a state that records it.

Permissions do not stop root, so the file is replaced by a non-empty
directory: the atomic rename over it fails whoever runs the test."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402


def block(path):
    """Replace the file at path with a non-empty directory.  The daemon may
    rewrite the file between the remove and the mkdir: then try again."""
    def attempt():
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        try:
            os.mkdir(path)
        except FileExistsError:
            return False
        with open(os.path.join(path, "keep"), "w") as f:
            f.write("x")
        return True
    return wait_until(attempt, 10, interval=0.05)


def unblock(path):
    shutil.rmtree(path)


def main():
    t = Tap()
    rig = Rig("gcp")
    d = Daemon(rig, settle_ms=100)
    status_path = os.path.join(d.state, "status.json")
    state_path = os.path.join(d.state, "state.json")
    d.write("sales/orders.csv", "id\n1\n")
    d.start()
    if not t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id"], ["1"]], 30) and
                wait_until(d.quiet, 30), "first sync done", d.tail()):
        return t.done()

    # --- status.json ------------------------------------------------------
    t.ok(block(status_path), "status.json replaced by a directory")
    d.write("sales/orders.csv", "id\n1\n2\n", atomic=True)
    t.ok(d.wait_log("status_write_failed", level="WARN", timeout=30),
         "status.json unwritable: status_write_failed WARN", d.tail())
    line = (d.log_lines("status_write_failed") or [""])[0]
    t.ok("error=" in line and "action=" in line, "the WARN carries the error and an action", line)
    t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id"], ["1"], ["2"]], 30),
         "the load still reaches Keboola", d.tail())
    t.ok(d.proc.poll() is None, "the daemon keeps running", d.tail())
    unblock(status_path)
    d.write("sales/orders.csv", "id\n1\n2\n3\n", atomic=True)
    t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id"], ["1"], ["2"], ["3"]], 30)
         and wait_until(d.quiet, 30),
         "status.json is written again at the next change", (d.status_json(), d.tail()))

    # --- state.json -------------------------------------------------------
    t.ok(block(state_path), "state.json replaced by a directory")
    d.write("sales/orders.csv", "id\n4\n", atomic=True)
    t.ok(d.wait_log("state_save_failed", level="ERROR", timeout=30),
         "state.json unwritable: state_save_failed ERROR", d.tail())
    line = (d.log_lines("state_save_failed") or [""])[0]
    t.ok(f"path={state_path}" in line and "error=" in line and "action=" in line,
         "the ERROR names the path, the error and an action", line)
    t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id"], ["4"]], 30),
         "the load still reaches Keboola", d.tail())
    t.ok(d.proc.poll() is None, "the daemon keeps running", d.tail())
    unblock(state_path)
    d.write("sales/orders.csv", "id\n5\n", atomic=True)
    t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id"], ["5"]], 30),
         "the next change is loaded", d.tail())
    # rows recorded with the last load: one data row ("5").
    t.ok(wait_until(lambda: ((d.state_json() or {}).get("files") or {}).get("sales/orders.csv", {}).get("fingerprint")
                    and d.quiet() and (d.state_json()["files"]["sales/orders.csv"].get("rows") == 1), 30),
         "state.json is written again and records the last load", d.state_json())

    rc, _ = d.stop()
    t.ok(rc == 0, "TERM exits 0", d.tail())
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
