#!/usr/bin/env python3
"""Idle cost with 1,000 CSVs in 100 folders, beside lsyncd.

    bench/idle.py [--seconds 60] [--folders 100] [--per-folder 10]

1. A gcp rig; 1,000 small CSVs in 100 folders; `kbsyncd once` syncs them.
2. `kbsyncd run` starts (inotify), reconciles (nothing to load), goes idle.
3. lsyncd (Debian's) watches the same tree with a no-op action.
4. Over the same window (60 s) both are sampled: context switches
   (voluntary + nonvoluntary, all threads, /proc/PID/task/*/status) =
   wake-ups; RSS and Private_Dirty from /proc/PID/smaps_rollup.
Everything generated is deleted at the end.
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time

from benchlib import (Daemon, bench_config, Rig, memory_kb, make_tree, on_exit, summary, threads_ctxt,
                      wait_until)

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=60)
ap.add_argument("--folders", type=int, default=100)
ap.add_argument("--per-folder", type=int, default=10)
args = ap.parse_args()

rig = Rig("gcp")
d = Daemon(rig)
bench_config(d, extra="max_parallel = 16, jobs = { poll_initial_ms = 100, poll_cap_ms = 500 },")
n = make_tree(d.watch, args.folders, args.per_folder)
t0 = time.monotonic()
r = d.once(timeout=1800)
print(f"initial sync of {n} files: exit {r.returncode} in {time.monotonic() - t0:.1f} s", flush=True)

proc = d.start()
wait_until(lambda: "reconciled" in d.log() and "watching" in d.log(), 120)
time.sleep(2)   # let the post-start work (status file write) finish before the window

lsyncd = None
if shutil.which("lsyncd"):
    ldir = tempfile.mkdtemp(prefix="kbsyncd-bench-lsyncd-")
    on_exit(lambda: shutil.rmtree(ldir, ignore_errors=True))
    cfg = os.path.join(ldir, "lsyncd.conf.lua")
    with open(cfg, "w") as f:
        f.write(f"""settings {{ nodaemon = true, logfile = "{ldir}/lsyncd.log",
  statusFile = "{ldir}/lsyncd.status", insist = true }}
noop = {{
  delay = 1, maxProcesses = 1,
  init = function(event) event.inlet.discardEvent(event) end,
  action = function(inlet) inlet.discardEvent(inlet.getEvent()) end,
}}
sync {{ noop, source = "{d.watch}" }}
""")
    lsyncd = subprocess.Popen(["lsyncd", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    on_exit(lambda: (lsyncd.poll() is None and lsyncd.kill(), lsyncd.wait()))
    wait_until(lambda: os.path.exists(os.path.join(ldir, "lsyncd.status")) or
               lsyncd.poll() is not None, 60)
    time.sleep(2)

pids = {"kbsyncd": proc.pid}
if lsyncd and lsyncd.poll() is None:
    pids["lsyncd"] = lsyncd.pid
start = {k: threads_ctxt(p) for k, p in pids.items()}
time.sleep(args.seconds)   # the measurement window itself (nothing to poll for)
res = {}
for k, p in pids.items():
    switches = threads_ctxt(p) - start[k]
    rss, dirty, hwm = memory_kb(p)
    res[k] = (switches * 60.0 / args.seconds, rss, dirty, hwm)
    print(f"{k:8s} wakeups/min={switches * 60.0 / args.seconds:.1f} rss_kb={rss} "
          f"private_dirty_kb={dirty} peak_rss_kb={hwm}", flush=True)
k = res["kbsyncd"]
text = (f"{n} CSVs in {args.folders} folders, idle {args.seconds:.0f} s: kbsyncd "
        f"{k[0]:.1f} wake-ups/min, RSS {k[1] / 1024:.1f} MB, private dirty {k[2] / 1024:.1f} MB")
if "lsyncd" in res:
    ls = res["lsyncd"]
    text += (f"; lsyncd {ls[0]:.1f} wake-ups/min, RSS {ls[1] / 1024:.1f} MB, "
             f"private dirty {ls[2] / 1024:.1f} MB")
summary("idle", text)
d.stop()
