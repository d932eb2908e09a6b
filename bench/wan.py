#!/usr/bin/env python3
"""One large file uploaded to S3 over a simulated WAN link: kbsyncd's
client at several upload.parallel against boto3 (issue #12).

    bench/wan.py [--size-mb 1024] [--variants p1,p4,p8,boto3] [--link SPEC | --no-link]

A file of --size-mb random bytes (nothing along the way can profit from
compressible data) is written once into /tmp.  Each variant gets a fresh
aws rig (tests/rig/up: moto, the emulator and its S3 gate) with the link
simulator in front of the S3 gate (KBSYNCD_LINK_STORAGE, default
rate=5000000,total_rate=40000000,latency_ms=40: 5 MB/s per connection,
40 MB/s over all, 40 ms one way) and uploads the file once under
/usr/bin/time -v:

  pN     build/kbsyncd --exec bench/upload.lua with upload.parallel = N
         (client:upload_file(): files/prepare, multipart upload)
  boto3  bench/wan_boto3.py: the same files/prepare, then boto3's
         upload_file with TransferConfig() defaults (8 MiB parts, 10 threads)

Reported per variant: the uploader's own time (prepare + upload) and MB/s,
its wall time, CPU and peak RSS ("Maximum resident set size"), the CPU
seconds moto, the emulator (the S3 gate runs in it) and the link simulator
spent meanwhile, the machine's CPU busy share over the run, and from the
simulator's log the file bytes that went up, the most parts in flight at
once, the span from the first file byte on the link to the last, and the
time from there to the uploader's exit.  --no-link runs the same without the simulator (what the rig itself
can do on this machine).  Figures only: nothing fails on a number; a failed
upload makes the exit status 1.
"""
import argparse
import os
import re
import sys
import tempfile
import time

from benchlib import BIN, HERE, ROOT, Rig, run_timed, summary

sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from wanlib import linksim, upload_requests  # noqa: E402

DEFAULT_LINK = "rate=5000000,total_rate=40000000,latency_ms=40"
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """CPU seconds (user + system) of pid so far, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def machine_cpu():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def rig_pids(rig):
    out = {}
    for name in ("moto", "emulator", "link-storage"):
        try:
            with open(os.path.join(rig.dir, f"{name}.pid")) as f:
                out[name] = int(f.read().strip())
        except (OSError, ValueError):
            pass
    return out


def make_file(path, size_mb):
    with open(path, "wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(1024 * 1024))


def run_variant(name, spool, size, link, workdir):
    env_rig = {"KBSYNCD_LINK_STORAGE": link} if link else {}
    rig = Rig("aws", **env_rig)
    try:
        env = dict(os.environ, **rig.env)
        env.pop("KBSYNCD_BENCH_PARALLEL", None)
        if name == "boto3":
            cmd = [sys.executable, os.path.join(HERE, "wan_boto3.py"), spool]
        else:
            env["KBSYNCD_BENCH_PARALLEL"] = name[1:]
            cmd = [BIN, "--exec", os.path.join(HERE, "upload.lua"), spool]
        timefile = os.path.join(workdir, f"time.{name}")
        pids = rig_pids(rig)
        cpu0 = {k: proc_cpu(p) for k, p in pids.items()}
        m0 = machine_cpu()
        # Generous: the slowest variant at 1 MB/s.
        r, timed = run_timed(cmd, timefile, env=env, cwd=ROOT, timeout=max(600, size / 1e6 * 1.0))
        ended = time.time()
        m1 = machine_cpu()
        cpu1 = {k: proc_cpu(p) for k, p in pids.items()}
        result = {"name": name, "rc": r.returncode, "out": r.stdout.strip(),
                  "err": r.stderr.strip()[-2000:]}
        result.update(timed)
        if r.returncode != 0:  # the rig's side of the story, before down deletes it
            gone = [k for k, p in pids.items() if proc_cpu(p) is None]
            result["err"] += f"\nrig processes gone: {gone or 'none'}"
            for k in pids:
                try:
                    with open(os.path.join(rig.dir, f"{k}.log"), errors="replace") as f:
                        result["err"] += f"\n--- {k}.log (tail)\n" + f.read()[-1500:]
                except OSError:
                    pass
        with open(timefile) as f:
            result["time_v"] = f.read()
        m = re.search(r"\bms=(\d+)", r.stdout)
        result["ms"] = int(m.group(1)) if m else None
        result["servers_cpu"] = {k: (cpu1[k] - cpu0[k]) if cpu0.get(k) is not None
                                 and cpu1.get(k) is not None else None for k in pids}
        result["machine_busy"] = (m1[0] - m0[0]) / max(1, m1[1] - m0[1])
        log = rig.env.get("KBSYNCD_LINK_STORAGE_LOG")
        if log:
            records = linksim.read_log(log)
            ups = upload_requests(records)
            completes = [r for r in records if r["method"] == "POST" and "uploadId=" in r["path"]]
            result["link_bytes"] = sum(u["body"] for u in ups)
            result["link_parts"] = len(ups)
            result["in_flight"] = linksim.max_in_flight(ups)
            result["link_conns"] = len({u["conn"] for u in ups})
            if ups:
                # From the first file byte on the link to the last one, and
                # from there to the uploader's exit (Complete, moto's work).
                last = max(u["end"] for u in ups)
                result["link_span_s"] = last - min(u["start"] for u in ups)
                result["after_link_s"] = ended - last
                if completes:  # CompleteMultipartUpload went up once every part was answered
                    result["complete_wait_s"] = ended - completes[-1]["start"]
        return result
    finally:
        rig.down()


def fmt_row(res, size):
    ms = res["ms"]
    secs = ms / 1000 if ms else None
    cpu = res["servers_cpu"]

    def c(k):
        v = cpu.get(k)
        return "-" if v is None else f"{v:.0f}"
    return ("| {name} | {t} | {mbs} | {wall:.1f} | {rss:.1f} | {ccpu:.1f} | {moto} | {emu} | {link} "
            "| {busy:.0f}% | {flight} |").format(
        name=label(res["name"]), t=f"{secs:.1f}" if secs else "failed",
        mbs=f"{size / 1e6 / secs:.1f}" if secs else "-", wall=res["wall_s"], rss=res["rss_kb"] / 1000,
        ccpu=res["cpu_s"], moto=c("moto"), emu=c("emulator"), link=c("link-storage"),
        busy=res["machine_busy"] * 100, flight=res.get("in_flight", "-"))


def label(name):
    return "boto3 upload_file (8 MiB, 10 threads)" if name == "boto3" else \
        f"kbsyncd upload.parallel={name[1:]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="file size in MiB (default 1024)")
    ap.add_argument("--variants", default="p1,p4,p8,boto3",
                    help="comma-separated: pN (kbsyncd, upload.parallel=N), boto3")
    ap.add_argument("--link", default=DEFAULT_LINK, help=f"link spec (default {DEFAULT_LINK})")
    ap.add_argument("--no-link", action="store_true", help="no link simulator (loopback)")
    args = ap.parse_args()
    link = None if args.no_link else args.link
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v != "boto3" and not re.fullmatch(r"p\d+", v):
            ap.error(f"unknown variant {v}")
    if any(v != "boto3" for v in variants) and not os.access(BIN, os.X_OK):
        sys.exit(f"no {BIN}: run make first")

    workdir = tempfile.mkdtemp(prefix="kbsyncd-bench-wan.")
    spool = os.path.join(workdir, "spool.csv")
    size = args.size_mb * 1024 * 1024
    try:
        t0 = time.monotonic()
        make_file(spool, args.size_mb)
        print(f"wan: {args.size_mb} MiB of random bytes in {time.monotonic() - t0:.1f} s; "
              f"link: {link or 'none (loopback)'}; nproc={os.cpu_count()} "
              f"loadavg={open('/proc/loadavg').read().split()[0]}", flush=True)
        results = []
        for v in variants:
            t0 = time.monotonic()
            res = run_variant(v, spool, size, link, workdir)
            res["bench_s"] = time.monotonic() - t0
            results.append(res)
            print(f"--- {v}: rc={res['rc']} ({res['bench_s']:.0f} s with rig up/down)", flush=True)
            print(f"  out: {res['out']}")
            if res["rc"] != 0:
                print(f"  err: {res['err']}")
            print(f"  time -v: wall={res['wall_s']:.1f}s cpu={res['cpu_s']:.1f}s "
                  f"peak_rss_kb={res['rss_kb']}")
            print("  servers cpu_s: " + " ".join(
                f"{k}={'-' if x is None else f'{x:.1f}'}" for k, x in res["servers_cpu"].items())
                + f"  machine busy={res['machine_busy'] * 100:.0f}%")
            if "link_bytes" in res:
                print(f"  link: file bytes up={res['link_bytes']} (of {size}) parts={res['link_parts']} "
                      f"connections={res['link_conns']} max in flight={res['in_flight']}"
                  + (f" first-to-last byte={res['link_span_s']:.1f}s "
                     f"({res['link_bytes'] / 1e6 / max(res['link_span_s'], 1e-3):.1f} MB/s) "
                     f"then {res['after_link_s']:.1f}s to the uploader's exit"
                     + (f", {res['complete_wait_s']:.1f}s of it from CompleteMultipartUpload on"
                        if "complete_wait_s" in res else "")
                     if "link_span_s" in res else ""), flush=True)
        print()
        print(f"size {args.size_mb} MiB, link {link or 'none (loopback)'}")
        print("| uploader | time s | MB/s | wall s | peak RSS MB | its CPU s | moto CPU s "
              "| emulator CPU s | linksim CPU s | machine busy | parts in flight |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for res in results:
            print(fmt_row(res, size))
        tag = f"{args.size_mb}MiB{'' if link else ' no-link'}"
        summary("wan", f"{tag}: " + ", ".join(
            f"{r['name']} {r['ms'] / 1000:.1f} s {r['rss_kb'] / 1000:.1f} MB" if r["ms"] else
            f"{r['name']} failed" for r in results))
        return 0 if all(r["rc"] == 0 and r["ms"] for r in results) else 1
    finally:
        for name in os.listdir(workdir):
            os.unlink(os.path.join(workdir, name))
        os.rmdir(workdir)


if __name__ == "__main__":
    sys.exit(main())
