#!/usr/bin/env python3
"""TERM while a HUP reload waits for a running load: the daemon stops.

A reload first lets the running loads finish (the old state drains), then
swaps in the new state.  A TERM that arrives during that drain must end the
daemon once the drain is over -- not be dropped with the old state while
the new one starts and runs on (the TERM was then lost: a service manager
would wait out its own timeout and kill the daemon)."""
import signal

from e2elib import Daemon, Rig, SLOW, Tap, wait_until

t = Tap()
rig = Rig("gcp")
d = Daemon(rig, grace_s=60)
d.start()
t.ok(wait_until(d.quiet, 30), "the daemon is up and idle", d.tail())

# Every upload is held for 4 s, so the load below is running when the
# signals come.
rig.faults(rate=0, script=[{"path": "upload", "kind": "slow"}], slowMs=4000)
d.write("sales/orders.csv", "id,name\n1,a\n")
t.ok(wait_until(lambda: ((d.status_json() or {}).get("counts") or {}).get("running"), 30),
     "a load is running", d.tail())

d.proc.send_signal(signal.SIGHUP)
t.ok(d.wait_log("reload_requested", timeout=15), "HUP: the reload waits for the running load",
     d.tail())
d.proc.send_signal(signal.SIGTERM)
try:
    rc = d.proc.wait(timeout=30 * SLOW)
except Exception:   # subprocess.TimeoutExpired: still running
    rc = None
t.ok(rc == 0, "TERM during the reload's drain: the daemon exits 0",
     f"exit: {'still running 30 s after TERM' if rc is None else rc}\n{d.tail(15)}")
d.kill()
stopped = d.log_lines("stopped")
t.ok(stopped and "reason=stop" in stopped[-1], "it logs stopped reason=stop", d.tail(10))
t.ok(len(d.log_lines("starting")) == 1, "no new state was started after the TERM", d.tail(10))
t.ok(rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "a"]],
     "the running load finished before the exit")
raise SystemExit(t.done())
