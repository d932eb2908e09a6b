#!/usr/bin/env python3
"""Idle cost at two tree sizes, with and without the deployment settings,
beside lsyncd.

    bench/idle.py [--files 1000 10000] [--folders 100] [--seconds 60]
                  [--level info]

1. A gcp rig (KBSYNCD_JOB_POLLS=0: jobs finish at their first poll).  The
   tree grows to each count of --files in turn (small CSVs spread evenly
   over --folders folders, so only the number of files changes) and
   `kbsyncd once` syncs it: every file is tracked.
2. At each count, `kbsyncd run` starts twice: "deployed", with
   GLIBC_TUNABLES=glibc.malloc.tcache_count=0 and GNUTLS_NO_IMPLICIT_INIT=1
   in its environment (what the Dockerfile and the systemd unit in
   docs/operations.md set), and "bare", with neither.  Each time it
   reconciles (nothing to load) and goes quiet (its status.json shows
   nothing pending, running or settling); then, over a --seconds window,
   the context switches of all its threads (voluntary + nonvoluntary,
   /proc/PID/task/*/status) are counted -- each is a wake-up -- and at the
   window's end RSS and Private_Dirty are read (/proc/PID/smaps_rollup).
   With --level debug the daemon's own `memory_released` figures (Lua heap,
   host.kv maps) are printed too.
3. lsyncd (Debian's), when installed, watches the same tree with a no-op
   action over the same window, at each count.
4. Per environment: the growth from the smallest count to the largest in
   bytes per tracked file, for RSS and for private dirty.
Everything generated is deleted at the end.
"""
import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time

from benchlib import (Daemon, bench_config, Rig, memory_kb, make_tree, on_exit, summary, threads_ctxt,
                      wait_until)

# What deployment sets (Dockerfile ENV, the systemd unit): one source, read
# from the Dockerfile so the bench measures what is shipped.
HERE = os.path.dirname(os.path.abspath(__file__))


def deployed_env():
    with open(os.path.join(HERE, "..", "Dockerfile")) as f:
        text = f.read()
    env = {}
    for name in ("GLIBC_TUNABLES", "GNUTLS_NO_IMPLICIT_INIT"):
        m = re.search(rf"\b{name}=(\S+)", text)
        if not m:
            raise SystemExit(f"bench/idle.py: the Dockerfile no longer sets {name}")
        env[name] = m.group(1)
    return env


ap = argparse.ArgumentParser()
ap.add_argument("--files", type=int, nargs="+", default=[1000, 10000])
ap.add_argument("--folders", type=int, default=100)
ap.add_argument("--seconds", type=float, default=60)
ap.add_argument("--level", default="info", help="the daemon's log level (debug adds memory_released)")
args = ap.parse_args()
counts = sorted(args.files)
DEPLOYED = deployed_env()
ENVS = [("deployed", DEPLOYED), ("bare", {})]

os.environ.setdefault("KBSYNCD_JOB_POLLS", "0")
rig = Rig("gcp")
d = Daemon(rig)
bench_config(d, level=args.level,
             extra="max_parallel = 32, jobs = { poll_initial_ms = 50, poll_cap_ms = 200 },")


def start_lsyncd():
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
    p = subprocess.Popen(["lsyncd", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    on_exit(lambda: (p.poll() is None and p.kill(), p.wait()))
    wait_until(lambda: os.path.exists(os.path.join(ldir, "lsyncd.status")) or p.poll() is not None, 60)
    time.sleep(2)
    return p if p.poll() is None else None


def window(pids):
    """{name: (wake-ups/min, rss_kb, private_dirty_kb, peak_kb)} over one window."""
    start = {k: threads_ctxt(p) for k, p in pids.items()}
    time.sleep(args.seconds)   # the measurement window itself (nothing to poll for)
    out = {}
    for k, p in pids.items():
        rss, dirty, hwm = memory_kb(p)
        out[k] = ((threads_ctxt(p) - start[k]) * 60.0 / args.seconds, rss, dirty, hwm)
    return out


def measure(env):
    """Starts `kbsyncd run` with env added (and the deployment settings
    removed where env does not set them); returns its window figures and
    its memory_released line, if logged."""
    saved = {k: os.environ.pop(k, None) for k in DEPLOYED}
    try:
        os.environ.update(env)
        open(d.logfile, "w").close()
        proc = d.start()
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v
    wait_until(lambda: "reconciled" in d.log() and "watching" in d.log(), 600)
    wait_until(d.quiet, 120)
    time.sleep(3)   # the release of the start-up garbage follows quiet by up to 1 s
    res = window({"kbsyncd": proc.pid})["kbsyncd"]
    released = [ln for ln in d.log().splitlines() if " memory_released " in ln]
    rc, _ = d.stop()
    if rc != 0:
        raise SystemExit(f"kbsyncd run exited {rc}")
    return res, (released[-1].split(" memory_released ")[1] if released else None)


results = {}   # (count, env name) -> (wake-ups/min, rss, dirty, peak)
for n_wanted in counts:
    n = make_tree(d.watch, args.folders, n_wanted // args.folders)
    t0 = time.monotonic()
    r = d.once(timeout=7200)
    print(f"sync to {n} files: exit {r.returncode} in {time.monotonic() - t0:.1f} s", flush=True)
    if r.returncode != 0:
        raise SystemExit(f"kbsyncd once exited {r.returncode}: {r.stderr[-2000:]}")
    for name, env in ENVS:
        res, released = measure(env)
        results[(n, name)] = res
        print(f"{n:6d} files {name:8s} wakeups/min={res[0]:.1f} rss_kb={res[1]} "
              f"private_dirty_kb={res[2]} peak_rss_kb={res[3]}"
              + (f" memory_released: {released}" if released else ""), flush=True)
    if not shutil.which("lsyncd"):
        print("lsyncd is not installed: not measured (apt-get install lsyncd)", flush=True)
    else:
        ls = start_lsyncd()
        if ls:
            res = window({"lsyncd": ls.pid})["lsyncd"]
            results[(n, "lsyncd")] = res
            print(f"{n:6d} files lsyncd   wakeups/min={res[0]:.1f} rss_kb={res[1]} "
                  f"private_dirty_kb={res[2]} peak_rss_kb={res[3]}", flush=True)
            ls.kill()
            ls.wait()

nums = sorted({n for n, _ in results})
lo, hi = nums[0], nums[-1]
parts = []
for name in [e for e, _ in ENVS] + ["lsyncd"]:
    rows = [(n, results[(n, name)]) for n in nums if (n, name) in results]
    if not rows:
        continue
    text = f"{name}: " + "; ".join(
        f"{n} files RSS {r[1] / 1024:.1f} MB, private dirty {r[2] / 1024:.1f} MB, "
        f"{r[0]:.1f} wake-ups/min" for n, r in rows)
    if hi > lo and (lo, name) in results and (hi, name) in results:
        a, b = results[(lo, name)], results[(hi, name)]
        text += (f"; {lo}->{hi}: {(b[1] - a[1]) * 1024 / (hi - lo):.0f} B RSS and "
                 f"{(b[2] - a[2]) * 1024 / (hi - lo):.0f} B private dirty per file")
    parts.append(text)
summary("idle", " | ".join(parts))
