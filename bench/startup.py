#!/usr/bin/env python3
"""Start-up with N unchanged CSVs (default 10,000 in 100 folders).

    bench/startup.py [--files 10000] [--folders 100] [--runs 3]

1. A gcp rig (KBSYNCD_JOB_POLLS=0 so jobs finish at the first poll) and
   N small CSVs; `kbsyncd once` with max_parallel = 32 loads them all
   (this setup takes minutes: the emulator is the bottleneck).
2. Then, --runs times: empty the emulator's request log, start
   `kbsyncd run`, wait for the `reconciled` line, stop it (TERM).  Reported:
   time from process start to `reconciled` (log timestamps), to
   `watching`, and the API requests made (emulator request log) -- which
   must not grow with N.  The same with `kbsyncd once` (process wall time).
Everything generated is deleted at the end.
"""
import argparse
import os
import subprocess
import time

from benchlib import (Daemon, Rig, bench_config, http_delete, log_time, make_tree, summary,
                      wait_until)

ap = argparse.ArgumentParser()
ap.add_argument("--files", type=int, default=10000)
ap.add_argument("--folders", type=int, default=100)
ap.add_argument("--runs", type=int, default=3)
args = ap.parse_args()

os.environ.setdefault("KBSYNCD_JOB_POLLS", "0")
rig = Rig("gcp")
d = Daemon(rig)
bench_config(d, extra="max_parallel = 32, jobs = { poll_initial_ms = 50, poll_cap_ms = 200 },")
n = make_tree(d.watch, args.folders, args.files // args.folders)
t0 = time.monotonic()
r = d.once(timeout=7200)
print(f"setup: {n} files loaded by once: exit {r.returncode} in {time.monotonic() - t0:.0f} s",
      flush=True)
tables = len(rig.tables())
print(f"tables in the emulator: {tables}", flush=True)

runs = []
for i in range(args.runs):
    http_delete(rig)
    open(d.logfile, "w").close()
    started = time.time()
    d.start()
    ok = wait_until(lambda: "reconciled" in d.log() and "watching" in d.log(), 300, interval=0.02)
    d.stop()
    lines = d.log().splitlines()
    rec = next(log_time(ln) for ln in lines if " reconciled " in ln)
    watch = next(log_time(ln) for ln in lines if " watching " in ln)
    first = log_time(lines[0])
    reqs = rig.requests()
    api = [f"{q['method']} {q['path']}" for q in reqs]
    loads = sum(1 for ln in lines if " table_loaded " in ln)
    recl = next(ln for ln in lines if " reconciled " in ln)
    runs.append((rec - started, watch - started, len(api), loads))
    print(f"run {i + 1}: reconciled {rec - started:.2f} s after exec (first log line +"
          f"{rec - first:.2f} s), watching +{watch - started:.2f} s, {len(api)} API requests "
          f"{sorted(set(api))}, {loads} loads; {recl.split(' reconciled ')[1][:200]}", flush=True)

http_delete(rig)
t0 = time.monotonic()
r = d.once()
once_s = time.monotonic() - t0
once_reqs = len(rig.requests())
print(f"once over {n} unchanged files: exit {r.returncode} in {once_s:.2f} s, {once_reqs} API requests",
      flush=True)
best = min(runs)
summary("startup", f"{n} unchanged CSVs ({tables} tables): run reconciled in {best[0]:.2f} s "
        f"(best of {len(runs)}; worst {max(runs)[0]:.2f} s) with {best[2]} API requests and "
        f"{best[3]} loads; once {once_s:.2f} s with {once_reqs} API requests")
