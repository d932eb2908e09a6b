"""Shared pieces of the daemon benchmarks (bench/idle.py, latency.py,
startup.py, bigfile.py): the test rig and daemon wrappers of
tests/e2e/e2elib.py, /proc readings, CSV trees, and one SUMMARY line per
bench that bench/run collects.  Benchmarks print figures; they never pass or
fail on them."""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from e2elib import BIN, Daemon, Rig, on_exit, wait_until  # noqa: E402,F401


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def ctxt_switches(pid):
    s = proc_status(pid)
    return int(s["voluntary_ctxt_switches"]) + int(s["nonvoluntary_ctxt_switches"])


def memory_kb(pid):
    """(rss, private_dirty, peak rss) in kB from smaps_rollup and status."""
    rollup = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                rollup[m.group(1)] = int(m.group(2))
    s = proc_status(pid)
    return rollup.get("Rss", 0), rollup.get("Private_Dirty", 0), int(s["VmHWM"].split()[0])


def threads_ctxt(pid):
    """Context switches summed over every thread of pid (libcurl's resolver
    threads included)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def make_tree(root, folders, per_folder, rows=5):
    """folders x per_folder small CSVs: root/dNNN/tNNNNN.csv (numbered
    within each folder).  Files already there are left alone, so a tree
    grows to a larger count without touching what was synced.  Returns
    the number of files the tree holds."""
    n = 0
    for i in range(folders):
        d = os.path.join(root, f"d{i:03d}")
        os.makedirs(d, exist_ok=True)
        for j in range(per_folder):
            n += 1
            path = os.path.join(d, f"t{j:05d}.csv")
            if os.path.exists(path):
                continue
            with open(path, "w") as f:
                f.write("id,name,amount\n")
                for r in range(rows):
                    f.write(f"{r},name {i}-{j}-{r},{r * 1.5}\n")
    return n


def log_time(line):
    """Epoch seconds of a log line's timestamp."""
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z", line)
    if not m:
        return None
    import calendar
    y, mo, d, h, mi, s, ms = map(int, m.groups())
    return calendar.timegm((y, mo, d, h, mi, s)) + ms / 1000.0


def summary(name, text):
    print(f"SUMMARY {name}: {text}", flush=True)


def percentile(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def time_v(path):
    """The fields of a /usr/bin/time -v report we use: rss_kb (peak RSS),
    wall_s, user_s, sys_s, cpu_s."""
    out = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().rpartition(": ")
            out[key] = value
    wall = out.get("Elapsed (wall clock) time (h:mm:ss or m:ss)", "0:0")
    seconds = 0.0
    for piece in wall.split(":"):
        seconds = seconds * 60 + float(piece)
    user = float(out.get("User time (seconds)", 0))
    system = float(out.get("System time (seconds)", 0))
    return {"rss_kb": int(out.get("Maximum resident set size (kbytes)", 0)),
            "wall_s": seconds, "user_s": user, "sys_s": system, "cpu_s": user + system}


def run_timed(cmd, timefile, **kwargs):
    """subprocess.run(cmd, capture_output, text, **kwargs) under
    /usr/bin/time -v; returns the completed process and time_v's fields."""
    r = subprocess.run(["/usr/bin/time", "-v", "-o", timefile] + cmd, capture_output=True,
                       text=True, **kwargs)
    return r, time_v(timefile)


def bench_config(d, settle_ms=2000, level="info", extra=""):
    """A config for the daemon d (e2elib.Daemon) at a production-like log level."""
    import json
    with open(d.config, "w") as f:
        f.write(f"""return {{
  watch_dir = {json.dumps(d.watch)}, state_dir = {json.dumps(d.state)},
  settle_ms = {settle_ms},
  log = {{ file = {json.dumps(d.logfile)}, level = "{level}" }},
  {extra}
}}
""")


def http_delete(rig):
    """Empty the emulator's request log."""
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(f"{rig.url}/_emulator/requests", method="DELETE"),
                           timeout=30).read()
