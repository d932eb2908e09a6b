"""The safety rescan (`rescan_interval_s`): a change whose file event never
comes is still loaded.  The poll watcher with an hour-long interval stands
for a watcher that misses events (a Docker Desktop bind mount, a network
share): only the rescan can find the file."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402


def main():
    t = Tap()
    rig = Rig("gcp")
    d = Daemon(rig, extra='watcher = "poll", poll_interval_ms = 3600000, rescan_interval_s = 1,')
    d.start()
    t.ok(d.wait_log("reconciled", timeout=30), "the daemon started", d.tail())
    d.write("missed/a.csv", "id\n1\n")
    t.ok(wait_until(lambda: rig.table_rows("in.c-missed.a") == [["id"], ["1"]], 30),
         "a file no watcher event announced is found by the safety rescan and loaded", d.tail())
    t.ok(d.log_lines("safety_rescan"), "the rescan is logged (debug safety_rescan)", d.tail())

    # And with the rescan off, the same blind watcher finds nothing.
    rc, _ = d.stop()
    t.ok(rc == 0, f"stopped (rc={rc})")
    d.write_config(extra='watcher = "poll", poll_interval_ms = 3600000, rescan_interval_s = 0,')
    d.start()
    t.ok(d.wait_log("reconciled", count=2, timeout=30), "restarted without the rescan", d.tail())
    d.write("missed/b.csv", "id\n2\n")
    seen = wait_until(lambda: rig.table_rows("in.c-missed.b") is not None, 4)
    t.ok(not seen, "with rescan_interval_s = 0 the missed change stays missed (what the rescan is for)")
    rc, _ = d.stop()
    t.ok(rc == 0, f"stopped (rc={rc})")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
