#!/usr/bin/env python3
"""Signals as an operator uses them.

- HUP with a broken config: `reload_failed` names the problem, the old
  config keeps running and keeps syncing.
- HUP with a changed policy: the new state takes over (a new file gets the
  new table name) and nothing already synced is uploaded again.
- TERM while a load is stuck in a job, then a second TERM: exits at once
  with 143 instead of waiting out the grace time."""
import os
import signal
import time

from e2elib import Daemon, Rig, Tap, wait_until

t = Tap()
rig = Rig("gcp")
d = Daemon(rig, grace_s=60)

d.write("sales/orders.csv", "id,name\n1,a\n")
d.start()
t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "a"]], 30),
     "first file loaded", d.tail())

# A broken config on HUP: logged, ignored, still syncing.
good_config = open(d.config).read()
with open(d.config, "w") as f:
    f.write("return { watch_dir = 42 }\n")
d.proc.send_signal(signal.SIGHUP)
t.ok(d.wait_log("reload_failed", level="ERROR", timeout=15), "broken config on HUP -> reload_failed", d.tail())
failed = d.log_lines("reload_failed")
t.ok(any("watch_dir" in l and "must be a string" in l for l in failed), "reload_failed says what is wrong")
t.ok(failed and "traceback" not in failed[0], "a config error on reload is one line, no traceback")
d.write("sales/customers.csv", "id,email\n7,x@y\n", atomic=True)
t.ok(wait_until(lambda: rig.table_rows("in.c-sales.customers") is not None, 30),
     "the old config keeps syncing after a failed reload", d.tail())
t.ok(d.proc.poll() is None, "the daemon is still running")

# A new policy on HUP: the new state takes over; nothing re-uploaded.
uploads_before = rig.count("POST", r"/v2/storage/files/prepare")
with open(d.config, "w") as f:
    f.write(good_config.replace("return {", "return {\n  policy = { table = function(file) "
                                "return 'v2_' .. file.name:gsub('%.csv$', '') end },", 1))
d.proc.send_signal(signal.SIGHUP)
t.ok(d.wait_log("starting", count=2, timeout=30) and d.wait_log("reconciled", count=2, timeout=30),
     "HUP with a valid config: the old state stops, a new one starts and reconciles", d.tail())
d.write("sales/returns.csv", "id\n1\n", atomic=True)
t.ok(wait_until(lambda: rig.table_rows("in.c-sales.v2_returns") is not None, 30),
     "the new policy names the new table", d.tail())
t.ok(rig.count("POST", r"/v2/storage/files/prepare") - uploads_before == 1,
     "after the reload only the new file was uploaded")

# TERM during a stuck job, then TERM again: immediate exit.
rig.faults(script=[{"method": "POST", "path": r"(tables|import)-async$", "kind": "stuck-job", "count": 1}])
since = rig.last_seq()
d.write("sales/stuck.csv", "id\n1\n", atomic=True)
t.ok(wait_until(lambda: rig.count("POST", r"(tables|import)-async$", since) >= 1, 30),
     "a load is waiting on a stuck job",
     d.tail())
t0 = time.monotonic()
d.proc.send_signal(signal.SIGTERM)
# Wait until the first TERM is handled: two signals sent back to back can
# merge into one pending signal in the kernel.
t.ok(d.wait_log("shutdown_requested", timeout=10) and d.wait_log("draining", count=2, timeout=10),
     "first TERM: draining the running load")
d.proc.send_signal(signal.SIGTERM)
try:
    rc = d.proc.wait(timeout=10)
except Exception:
    rc = None
t.ok(rc == 143, f"second TERM exits at once with 143 (got {rc})")
t.ok(time.monotonic() - t0 < 10, "well before the 60 s grace time")
t.ok(len(d.log_lines("forced_exit", "WARN")) == 1, "forced_exit logged")
raise SystemExit(t.done())
