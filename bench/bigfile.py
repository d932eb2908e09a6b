#!/usr/bin/env python3
"""A large CSV synced end to end through the rig: time and peak RSS.

    bench/bigfile.py [--size-mb 1024] [--provider gcp] [--gzip-threshold-mb 50]

bench/stage_gen.py writes a realistic CSV of --size-mb into /tmp; a rig of
--provider starts; `kbsyncd once` (default config: files over 50 MB are
gzipped at level 6) stages, uploads, creates the table and waits for the
job, under /usr/bin/time -v.  Reported: wall time, the phases from the log
(staging+upload, job), the daemon's peak RSS ("Maximum resident set
size"), and the row count Keboola (the emulator) reports against the
file's.  Target (DESIGN 6): RSS under 32 MB whatever the size.  The file is
deleted at the end.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import HERE, Daemon, Rig, bench_config, log_time, on_exit, run_timed, summary

ap = argparse.ArgumentParser()
ap.add_argument("--size-mb", type=int, default=1024)
ap.add_argument("--provider", default="gcp")
ap.add_argument("--gzip-threshold-mb", type=int, default=50)
args = ap.parse_args()

rig = Rig(args.provider)
d = Daemon(rig)
bench_config(d, extra=f"gzip_threshold = {args.gzip_threshold_mb} * 1024 * 1024,"
             " jobs = { poll_initial_ms = 500, poll_cap_ms = 2000 },")
os.makedirs(d.path("big"))
src = d.path("big/orders.csv")
t0 = time.monotonic()
subprocess.run([sys.executable, os.path.join(HERE, "stage_gen.py"), src, str(args.size_mb)],
               check=True, stdout=subprocess.DEVNULL)
size = os.path.getsize(src)
print(f"generated {size / 1e6:.0f} MB in {time.monotonic() - t0:.0f} s", flush=True)

timef = os.path.join(d.base, "time.txt")
t0 = time.monotonic()
r, timed = run_timed(d.argv("once"), timef, env=d.env(), timeout=7200)
wall = time.monotonic() - t0
rss_kb = timed["rss_kb"]
cpu = f"{timed['user_s']:.2f}", f"{timed['sys_s']:.2f}"
log = d.log().splitlines()
start = log_time(log[0])
up = next((ln for ln in log if " file_uploaded " in ln), "")
loaded = next((ln for ln in log if " table_loaded " in ln), "")
t_up = log_time(up) if up else float("nan")
t_loaded = log_time(loaded) if loaded else float("nan")
m = re.search(r" rows=(\d+)", loaded)
rows = int(m.group(1)) if m else None
m = re.search(r" uploaded_bytes=(\d+)", loaded)
sent = int(m.group(1)) if m else None
tinfo = rig.tables().get("in.c-big.orders", {})
print(f"once: exit {r.returncode}, wall {wall:.1f} s, user {cpu[0]} s, sys {cpu[1]} s, "
      f"peak RSS {rss_kb / 1024:.1f} MB", flush=True)
print(f"staged + uploaded at +{t_up - start:.1f} s ({(sent or 0) / 1e6:.0f} MB sent), "
      f"table loaded at +{t_loaded - start:.1f} s; rows: daemon {rows}, Keboola "
      f"{tinfo.get('rowsCount')}", flush=True)
if r.returncode != 0:
    print(r.stdout[-2000:], r.stderr[-2000:], "\n".join(log[-20:]))
summary("bigfile", f"{size / 1e9:.2f} GB CSV via {args.provider} (gzip level 6, "
        f"{(sent or 0) / 1e6:.0f} MB uploaded): {wall:.0f} s end to end "
        f"(staged+uploaded {t_up - start:.0f} s, table loaded {t_loaded - start:.0f} s), "
        f"peak RSS {rss_kb / 1024:.1f} MB, rows {rows} = Keboola {tinfo.get('rowsCount')}, exit {r.returncode}")
