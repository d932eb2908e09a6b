#!/usr/bin/env python3
"""Change-to-upload latency.

    bench/latency.py [--changes 20] [--settle-ms 200]

A gcp rig and `kbsyncd run` (inotify, settle_ms as given, info logging).
One table is loaded first; then, --changes times, the file is rewritten
with new content and three moments are taken from the change (the time
the file was closed):
  prepare  the files/prepare request arrives at the emulator (request log
           time): the change was noticed, settled, staged;
  upload   the upload request arrives (the bytes are on their way);
  table    the table's dump equals the new content (polled every 10 ms).
Median and p95 of each.  Target (DESIGN 6): picked up within settle_ms +
100 ms, i.e. `prepare` <= settle_ms + 100 ms.
"""
import argparse
import time

from benchlib import Daemon, Rig, bench_config, percentile, summary, wait_until

ap = argparse.ArgumentParser()
ap.add_argument("--changes", type=int, default=20)
ap.add_argument("--settle-ms", type=int, default=200)
args = ap.parse_args()

rig = Rig("gcp")
d = Daemon(rig)
bench_config(d, settle_ms=args.settle_ms, extra="jobs = { poll_initial_ms = 100, poll_cap_ms = 500 },")
d.write("lat/t.csv", "id,v\n0,start\n")
d.start()
assert wait_until(lambda: rig.table_rows("in.c-lat.t") == [["id", "v"], ["0", "start"]], 60), d.tail()
time.sleep(1)

res = {"prepare": [], "upload": [], "table": []}
for i in range(1, args.changes + 1):
    seq = rig.last_seq()
    content = f"id,v\n{i},change {i}\n"
    with open(d.path("lat/t.csv"), "w") as f:
        f.write(content)
    t0 = time.time()
    want = [["id", "v"], [str(i), f"change {i}"]]
    ok = wait_until(lambda: rig.table_rows("in.c-lat.t") == want, 60, interval=0.01)
    t_table = time.time()
    reqs = rig.requests(since=seq)
    prep = next((r["time"] for r in reqs if r["method"] == "POST" and r["path"].endswith("files/prepare")), None)
    up = next((r["time"] for r in reqs if "/upload/" in r["path"]), None)
    if not ok or prep is None or up is None:
        print(f"change {i}: not seen ({ok}, {prep}, {up})", flush=True)
        continue
    res["prepare"].append((prep - t0) * 1000)
    res["upload"].append((up - t0) * 1000)
    res["table"].append((t_table - t0) * 1000)
    print(f"change {i:2d}: prepare {res['prepare'][-1]:6.0f} ms  upload {res['upload'][-1]:6.0f} ms  "
          f"table {res['table'][-1]:6.0f} ms", flush=True)
    # wait for the job to be polled to its end before the next change
    wait_until(lambda: d.log().count("table_loaded") >= i + 1, 30)
d.stop()
parts = [f"{k} median {percentile(v, 50):.0f} ms p95 {percentile(v, 95):.0f} ms"
         for k, v in res.items()]
summary("latency", f"settle_ms={args.settle_ms}, {len(res['table'])} changes: " + "; ".join(parts))
