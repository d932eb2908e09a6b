#!/usr/bin/env python3
"""Staging and upload overlapped (upload.overlap): time to table of a large
gzipped CSV with the overlap and without, over a simulated uplink.

    bench/overlap.py [--size-mb 1024] [--provider aws|azure]
                     [--link rate=5000000,total_rate=40000000,latency_ms=40]

bench/stage_gen.py writes a realistic CSV of --size-mb; a rig of
--provider starts with the link simulator in front of its file storage
(--link, "" for none); `kbsyncd once` loads the file twice, each time into
a fresh state and table: first with `upload.overlap = false` (staging, then
the upload), then with `upload.overlap = true`.  From the debug log of each
run: the staging time (`file_staged` ms), the upload time (`file_uploaded`
ms: files/prepare and every part), the time from the start of the load to
the end of the upload, and to the table loaded (the emulator's own import
of the file comes on top of both, and is the same for both); peak RSS under
/usr/bin/time -v.  Goal (issue "wan"): with the overlap, staged + uploaded
within 1.15 x max(staging, upload) of the run without it.  The file is
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

from benchlib import HERE, Daemon, Rig, bench_config, log_time, run_timed, summary

ap = argparse.ArgumentParser()
ap.add_argument("--size-mb", type=int, default=1024)
ap.add_argument("--provider", default="aws", choices=("aws", "azure"))
ap.add_argument("--link", default="rate=5000000,total_rate=40000000,latency_ms=40")
ap.add_argument("--config", default="", help="more config.lua fields for both runs, e.g. 'stage_step_bytes = 1048576,'")
args = ap.parse_args()

env = {"KBSYNCD_LINK_STORAGE": args.link} if args.link else {}
rig = Rig(args.provider, **env)
src_dir = tempfile.mkdtemp(prefix="kbsyncd-overlap-")
src = os.path.join(src_dir, "orders.csv")
t0 = time.monotonic()
subprocess.run([sys.executable, os.path.join(HERE, "stage_gen.py"), src, str(args.size_mb)],
               check=True, stdout=subprocess.DEVNULL)
size = os.path.getsize(src)
print(f"generated {size / 1e6:.0f} MB in {time.monotonic() - t0:.0f} s; link: {args.link or 'none'}",
      flush=True)


def field(line, key):
    m = re.search(rf" {key}=(\S+)", line)
    return m.group(1) if m else None


def run(overlap, folder):
    """One `once` that loads the file into in.c-<folder>.orders."""
    d = Daemon(rig)
    bench_config(d, level="debug", extra=(
        "jobs = { poll_initial_ms = 500, poll_cap_ms = 2000 },"
        f" upload = {{ overlap = {'true' if overlap else 'false'} }}, {args.config}"))
    os.makedirs(d.path(folder))
    os.link(src, d.path(f"{folder}/orders.csv"))
    timef = os.path.join(d.base, "time.txt")
    t0 = time.monotonic()
    r, timed = run_timed(d.argv("once"), timef, env=d.env(), timeout=7200)
    wall = time.monotonic() - t0
    rss_kb = timed["rss_kb"]
    log = d.log().splitlines()
    staged = next((ln for ln in log if " file_staged " in ln), "")
    up = next((ln for ln in log if " file_uploaded " in ln), "")
    loaded = next((ln for ln in log if " table_loaded " in ln), "")
    if r.returncode != 0 or not (staged and up and loaded):
        print(r.stdout[-2000:], r.stderr[-2000:], "\n".join(log[-20:]))
    # CompleteMultipartUpload (S3) / Put Block List (Azure): the request
    # that ends the upload, timed by the client's debug line. Its time is
    # the emulator's work (moto assembles the object in Python), paid once
    # after the last byte whether staging overlapped or not.
    commit = [ln for ln in log if " http_request " in ln and " method=" in ln
              and ((" method=POST" in ln and " bytes=0 " not in ln and "/v2/storage" not in ln)
                   or "comp=blocklist" in ln)]
    commit_s = int(field(commit[-1], "ms") or 0) / 1000 if commit else 0.0
    # The load starts when staging does: the end of staging minus its time.
    start = log_time(staged) - int(field(staged, "ms") or 0) / 1000 if staged else float("nan")
    res = {
        "overlap": overlap, "exit": r.returncode, "wall": wall, "rss_mb": rss_kb / 1024,
        "stage_s": int(field(staged, "ms") or 0) / 1000,
        "upload_s": int(field(up, "ms") or 0) / 1000,
        "uploaded_at": (log_time(up) - start) if up else float("nan"),
        "loaded_at": (log_time(loaded) - start) if loaded else float("nan"),
        "sent_mb": int(field(up, "bytes") or 0) / 1e6,
        "streamed": field(up, "streamed") == "true",
        "commit_s": commit_s,
    }
    print(f"overlap={overlap}: exit {r.returncode}, staging {res['stage_s']:.1f} s, upload "
          f"{res['upload_s']:.1f} s ({res['sent_mb']:.0f} MB, streamed={res['streamed']}), "
          f"staged+uploaded at +{res['uploaded_at']:.1f} s, table loaded at "
          f"+{res['loaded_at']:.1f} s, peak RSS {res['rss_mb']:.1f} MB; the closing request "
          f"(Complete) took {commit_s:.1f} s", flush=True)
    shutil.rmtree(d.base, ignore_errors=True)
    return res


try:
    off = run(False, "seq")
    on = run(True, "ovl")
finally:
    shutil.rmtree(src_dir, ignore_errors=True)
bound = max(off["stage_s"], off["upload_s"])
ratio = on["uploaded_at"] / bound if bound else float("nan")
# The same without the closing request, the emulator's part of the tail.
bound_nc = max(off["stage_s"], off["upload_s"] - off["commit_s"])
ratio_nc = (on["uploaded_at"] - on["commit_s"]) / bound_nc if bound_nc else float("nan")
print("\n| run | staging | upload | of it, Complete | staged + uploaded | table loaded | peak RSS |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for r in (off, on):
    print(f"| overlap {'on' if r['overlap'] else 'off'} | {r['stage_s']:.1f} s | {r['upload_s']:.1f} s "
          f"| {r['commit_s']:.1f} s | {r['uploaded_at']:.1f} s | {r['loaded_at']:.1f} s "
          f"| {r['rss_mb']:.1f} MB |")
print(f"\nwith the overlap: staged + uploaded in {on['uploaded_at']:.1f} s = {ratio:.2f} x "
      f"max(staging {off['stage_s']:.1f} s, upload {off['upload_s']:.1f} s) (goal <= 1.15); "
      f"without: {off['uploaded_at']:.1f} s; without the closing request on either side: "
      f"{ratio_nc:.2f} x")
summary("overlap", f"{size / 1e9:.2f} GB CSV via {args.provider}, link {args.link or 'none'}: "
        f"staged+uploaded {off['uploaded_at']:.0f} s sequential, {on['uploaded_at']:.0f} s overlapped "
        f"({ratio:.2f} x max(stage, upload), {ratio_nc:.2f} x without Complete); peak RSS {max(off['rss_mb'], on['rss_mb']):.1f} MB")
