"""Soak: seeded random churn while the emulator injects faults and the
daemon is killed with SIGKILL and restarted at random moments.

    python3 tests/soak/soak.py [--duration S] [--seed N] [--provider gcp|aws|azure]
    SEED=N replays a run (the seed is printed first).

Churn over 50+ files in 5+ folders: create, edit in place, atomic save
(temp + rename), rename, delete, new folders, files above a lowered gzip
threshold, header changes, invalid files (bad UTF-8), ignored files, plain
touches.  The emulator answers with random faults (rate 0.2 by default:
5xx, 429, maintenance, dropped connections, slow answers, commit-then-500).
The daemon gets, every 4-15 s, SIGKILL (7 in 10, restarted after 0-2 s of
churn), SIGHUP (2 in 10: reload under churn) or SIGTERM (1 in 10: a clean
stop mid-work, which must exit 0; then restarted).

When the churn stops, faults are turned off and the daemon (restarted if it
was down) is given time to converge, the oracle checks:
  1. every live file whose header matches its table: the table equals the
     file's last version (emulator dump vs the file parsed with Python's
     csv and the file's dialect);
  2. every other table (file deleted, renamed away, header changed or made
     invalid): the table holds one of the valid versions that file had with
     the table's header -- never garbage, never a mix;
  3. no table for an ignored file or a file that was never valid (some are
     created invalid: bad UTF-8 and a NUL);
  4. every ERROR line in the log is explained by an invalid file (a header
     change or bad content at that path);
  5. `kbsyncd status --json` shows nothing pending, running or dirty;
  6. every log line has the documented shape; the daemon never crashed
     (only the test's SIGKILLs ended it).
"""
import argparse
import csv
import io
import json
import os
import random
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "hostile"))
from hostile import (Daemon, Rig, Tap, bad_log_lines, csv_rows, table_id,  # noqa: E402
                     wait_until)

DIALECTS = [(",", '"'), (";", '"'), ("\t", '"'), ("|", '"')]
WORDS = ["alpha", "beta", "gamma", "delta", "Praha", "Zürich", "naïve", "x y", "42", "-7.5",
         "2024-01-31", "ok", "long text here", "čeština", "mixed 123", "Ωmega"]
INVALID_ERRORS = {"header_mismatch", "csv_invalid", "csv_invalid_encoding", "header_invalid"}


class Model:
    """What the test wrote: per path the versions in order (None = deleted)."""

    def __init__(self, d, rnd):
        self.d, self.rnd = d, rnd
        self.files = {}          # rel -> dict(versions=[...], dialect, header, big)
        self.folders = []
        self.ignored = set()     # rels that must never become tables
        self.invalid_paths = set()   # rels that were invalid (bad bytes or header change) once
        self.next_id = 0

    # -- content ---------------------------------------------------------
    def render(self, header, delim, rows):
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=delim, quotechar='"', lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        return buf.getvalue()

    def make(self, header, delim, big=False):
        rnd = self.rnd
        n = rnd.randint(2, 30) if not big else 0
        rows = [[f"{rnd.choice(WORDS)} {rnd.randrange(10 ** 6)}" for _ in header] for _ in range(n)]
        text = self.render(header, delim, rows)
        if big:   # just above the lowered gzip threshold (200 KB)
            target = rnd.randint(210, 400) * 1024
            rows = []
            chunk = [[f"{rnd.choice(WORDS)} {rnd.randrange(10 ** 9)}" for _ in header]
                     for _ in range(200)]
            body = self.render(header, delim, chunk).split("\n", 1)[1]
            parts = [self.render(header, delim, [])]
            size = len(parts[0])
            k = 0
            while size < target:
                line = body.replace("\n", f"#{k}\n")
                parts.append(line)
                size += len(line.encode())
                k += 1
            text = "".join(parts)
        return text

    def new_header(self):
        return [f"c{i}" for i in range(self.rnd.randint(2, 6))]

    # -- disk ------------------------------------------------------------
    def write(self, rel, text, atomic=False, raw=None):
        self.d.write(rel, text, atomic=atomic, raw=raw)

    def record(self, rel, version):
        self.files.setdefault(rel, {"versions": []})["versions"].append(version)

    def live(self):
        return [rel for rel, f in self.files.items() if f["versions"] and f["versions"][-1] is not None]

    # -- operations --------------------------------------------------------
    def new_folder(self):
        name = f"folder{len(self.folders):02d}"
        self.folders.append(name)
        return name

    def create(self, folder=None):
        folder = folder or self.rnd.choice(self.folders)
        self.next_id += 1
        rel = f"{folder}/file{self.next_id:04d}.csv"
        delim = self.rnd.choice(DIALECTS)[0]
        header = self.new_header()
        big = self.rnd.random() < 0.08
        text = self.make(header, delim, big)
        self.write(rel, text, atomic=self.rnd.random() < 0.5)
        self.files[rel] = {"versions": [], "delim": delim, "header": header}
        self.record(rel, {"text": text, "delim": delim, "header": header, "valid": True})
        return f"create {rel}{' (gzip size)' if big else ''}"

    def create_invalid(self):
        """A file that is invalid from its first byte: it must never become a table."""
        folder = self.rnd.choice(self.folders)
        self.next_id += 1
        rel = f"{folder}/file{self.next_id:04d}.csv"
        delim = self.rnd.choice(DIALECTS)[0]
        header = self.new_header()
        raw = self.make(header, delim).encode() + b"\x00\xc3\x28 broken\n"
        self.write(rel, None, raw=raw, atomic=self.rnd.random() < 0.5)
        self.files[rel] = {"versions": [], "delim": delim, "header": header}
        self.record(rel, {"text": None, "delim": delim, "header": header, "valid": False})
        self.invalid_paths.add(rel)
        return f"create invalid {rel}"

    def edit(self, atomic):
        live = self.live()
        if not live:
            return self.create()
        rel = self.rnd.choice(live)
        f = self.files[rel]
        big = self.rnd.random() < 0.08
        text = self.make(f["header"], f["delim"], big)
        self.write(rel, text, atomic=atomic)
        self.record(rel, {"text": text, "delim": f["delim"], "header": f["header"], "valid": True})
        return f"{'atomic save' if atomic else 'edit'} {rel}"

    def header_change(self):
        live = self.live()
        if not live:
            return self.create()
        rel = self.rnd.choice(live)
        f = self.files[rel]
        old = f["header"]
        f["header"] = old + [f"c{len(old)}"] if self.rnd.random() < 0.6 else list(reversed(old))
        text = self.make(f["header"], f["delim"])
        self.write(rel, text, atomic=self.rnd.random() < 0.5)
        self.invalid_paths.add(rel)
        self.record(rel, {"text": text, "delim": f["delim"], "header": f["header"], "valid": True})
        return f"header change {rel}"

    def invalid(self):
        live = self.live()
        if not live:
            return self.create()
        rel = self.rnd.choice(live)
        f = self.files[rel]
        text = self.make(f["header"], f["delim"])
        raw = text.encode() + b"bad\xff\xfe bytes" + f["delim"].encode() + b"x\n"
        self.write(rel, None, raw=raw)
        self.invalid_paths.add(rel)
        self.record(rel, {"text": None, "delim": f["delim"], "header": f["header"], "valid": False})
        return f"invalid bytes {rel}"

    def rename(self):
        live = self.live()
        if not live:
            return self.create()
        rel = self.rnd.choice(live)
        f = self.files[rel]
        folder = self.rnd.choice(self.folders)
        self.next_id += 1
        new = f"{folder}/file{self.next_id:04d}.csv"
        os.makedirs(self.d.path(folder), exist_ok=True)
        os.rename(self.d.path(rel), self.d.path(new))
        last = f["versions"][-1]
        self.files[new] = {"versions": [], "delim": f["delim"], "header": f["header"]}
        self.record(new, dict(last))
        if not last["valid"]:
            self.invalid_paths.add(new)
        self.record(rel, None)
        return f"rename {rel} -> {new}"

    def delete(self):
        live = self.live()
        if len(live) < 40:
            return self.create()
        rel = self.rnd.choice(live)
        os.unlink(self.d.path(rel))
        self.record(rel, None)
        return f"delete {rel}"

    def touch(self):
        live = self.live()
        if not live:
            return self.create()
        rel = self.rnd.choice(live)
        os.utime(self.d.path(rel))
        return f"touch {rel}"

    def ignored_file(self):
        folder = self.rnd.choice(self.folders)
        name = self.rnd.choice(["notes.txt", "~$lock.csv", ".hidden.csv", "draft.csv.tmp",
                                "backup.csv~", "data.json", ".~lock.file.csv#"])
        rel = f"{folder}/{name}"
        self.write(rel, "id,val\n1,IGNORED\n")
        self.ignored.add(rel)
        return f"ignored {rel}"

    def step(self):
        ops = [(self.create, 12), (lambda: self.edit(False), 25), (lambda: self.edit(True), 25),
               (self.rename, 6), (self.delete, 5), (self.header_change, 4), (self.invalid, 3),
               (self.touch, 8), (self.ignored_file, 3), (self.create_invalid, 2),
               (lambda: self.create(self.new_folder()), 2)]
        total = sum(w for _, w in ops)
        x = self.rnd.uniform(0, total)
        for fn, w in ops:
            x -= w
            if x <= 0:
                return fn()
        return ops[0][0]()


def dump_rows(rig, tid):
    return rig.table_rows(tid)


def file_rows(version):
    return csv_rows(version["text"], delimiter=version["delim"])


# What a sanitizer exits with when it reports (ASan and UBSan: 1 unless
# exitcode= says otherwise; LeakSanitizer: 23).
SANITIZER_EXIT = {1: "ASan/UBSan report, or a plain failure", 23: "LeakSanitizer: leaks at exit"}


class Runs:
    """Where each daemon process's stderr begins in the shared stderr.txt,
    so a failed check can show that process's own output."""

    def __init__(self, d):
        self.d = d
        self.path = os.path.join(d.base, "stderr.txt")
        self.offset = 0

    def start(self):
        try:
            self.offset = os.path.getsize(self.path)
        except FileNotFoundError:
            self.offset = 0
        return self.d.start()

    def stderr_tail(self, n=40):
        """The last n lines the current process wrote on stderr, then any
        report a sanitizer wrote to its log_path (ASAN_OPTIONS and
        UBSAN_OPTIONS may send reports to PATH.PID instead of stderr)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            text = ""
        lines = text.splitlines()[-n:]
        out = [f"stderr of pid {self.d.proc.pid} (last {len(lines)} lines):"] + \
            (lines or ["(empty)"])
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            m = re.search(r"(?:^|:)log_path=([^:]+)", os.environ.get(var, ""))
            if not m:
                continue
            log = f"{m.group(1)}.{self.d.proc.pid}"
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    out += [f"{var} log {log}:"] + f.read().splitlines()[-n:]
        return out


def describe_exit(rc):
    if rc is None:
        return "did not exit in time (killed)"
    if rc < 0:
        return f"killed by {signal.Signals(-rc).name}"
    return f"exit status {rc}" + (f" ({SANITIZER_EXIT[rc]})" if rc in SANITIZER_EXIT else "")


def status_json(d):
    r = d.command("status", "--json")
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=float(os.environ.get("DURATION", 75)),
                    help="seconds of churn (default 75)")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SEED") or 0) or None)
    ap.add_argument("--provider", default=os.environ.get("KBSYNCD_SOAK_PROVIDER", "gcp"))
    ap.add_argument("--fault-rate", type=float, default=float(os.environ.get("FAULT_RATE", 0.2)))
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--folders", type=int, default=5)
    ap.add_argument("--converge", type=float, default=180,
                    help="seconds allowed for convergence once churn stops")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10 ** 9)
    t = Tap()
    t.diag(f"soak seed={seed} (replay: SEED={seed}) duration={args.duration}s "
           f"provider={args.provider} fault_rate={args.fault_rate}")
    rnd = random.Random(seed)
    rig = Rig(args.provider)
    d = Daemon(rig, settle_ms=200, extra="""gzip_threshold = 200 * 1024, max_parallel = 4,
  http = { timeout_ms = 15000, connect_timeout_ms = 3000, low_speed_time_s = 10 },""")
    m = Model(d, rnd)
    runs = Runs(d)

    # Initial tree, before the first start: reconcile must pick it all up.
    for _ in range(args.folders):
        m.new_folder()
    for i in range(args.files):
        m.create(m.folders[i % len(m.folders)])
    rig.faults(rate=args.fault_rate, seed=seed, slowMs=400, retryAfter=1)

    kills = starts = hups = 0
    crashes, terms = [], []   # terms: (exit code, the process's stderr tail)
    runs.start()
    starts += 1
    end = time.monotonic() + args.duration
    next_kill = time.monotonic() + rnd.uniform(4, 15)
    ops = 0
    while time.monotonic() < end:
        if d.proc.poll() is not None:
            crashes.append((d.proc.returncode, runs.stderr_tail()))
            runs.start()
            starts += 1
        what = m.step()
        ops += 1
        if os.environ.get("SOAK_VERBOSE"):
            t.diag(what)
        now = time.monotonic()
        if now >= next_kill:
            action = rnd.choices(["KILL", "HUP", "TERM"], [7, 2, 1])[0]
            next_kill = time.monotonic() + rnd.uniform(4, 15)
            if action == "HUP":          # reload under churn: the daemon goes on
                d.proc.send_signal(signal.SIGHUP)
                hups += 1
                continue
            if action == "TERM":         # a clean stop in the middle of work
                rc, _ = d.stop(timeout=60)
                terms.append((rc, runs.stderr_tail() if rc != 0 else []))
            else:
                d.proc.send_signal(signal.SIGKILL)
                d.proc.wait()
                kills += 1
            # churn goes on while the daemon is down, for up to 2 s
            down_until = time.monotonic() + rnd.uniform(0, 2)
            while time.monotonic() < down_until:
                m.step()
                ops += 1
                time.sleep(rnd.uniform(0.02, 0.2))
            runs.start()
            starts += 1
        time.sleep(rnd.uniform(0.02, 0.35))
    t.diag(f"churn done: {ops} operations, {len(m.files)} paths, {len(m.live())} live files, "
           f"{len(m.folders)} folders, {kills} SIGKILLs, {hups} SIGHUPs, {len(terms)} SIGTERMs, "
           f"{starts} starts")

    # Faults off; the daemon must be up; then wait for convergence.
    rig.faults(rate=0)
    if d.proc.poll() is not None:
        crashes.append((d.proc.returncode, runs.stderr_tail()))
        runs.start()

    by_tid = {}
    for rel in m.files:
        by_tid.setdefault(table_id(*rel.split("/", 1)), []).append(rel)

    tally = {}

    def judge():
        """Returns a list of problems (empty when everything holds)."""
        tables = rig.tables()
        problems = []
        tally.clear()
        for tid, rels in by_tid.items():
            assert len(rels) == 1, f"two paths for {tid}: {rels}"
            rel = rels[0]
            versions = m.files[rel]["versions"]
            last = versions[-1]
            valid = [v for v in versions if v and v["valid"]]
            if tid not in tables:
                if last is not None and last["valid"]:
                    problems.append(f"{tid}: missing (file {rel} is live and valid)")
                continue
            rows = dump_rows(rig, tid)
            if rows is None:
                problems.append(f"{tid}: no dump")
                continue
            theader = rows[0] if rows else []
            if last is not None and last["valid"] and last["header"] == theader:
                tally["strict"] = tally.get("strict", 0) + 1
                if rows != file_rows(last):
                    problems.append(f"{tid}: differs from the last version of {rel} "
                                    f"({len(rows)} rows vs {len(file_rows(last))})")
            else:
                tally["earlier version"] = tally.get("earlier version", 0) + 1
                allowed = [file_rows(v) for v in valid if v["header"] == theader]
                if rows not in allowed:
                    problems.append(f"{tid}: holds no valid version of {rel} with header {theader}")
        known = set(by_tid)
        for tid in tables:
            if tid not in known:
                problems.append(f"{tid}: a table nobody asked for")
        for rel in m.ignored:
            folder, name = rel.split("/", 1)
            tn = table_id(folder, name)
            if tn in tables and tn not in known:
                problems.append(f"{tn}: table for ignored file {rel}")
        return problems

    def pending_count():
        s = status_json(d)
        if not s:
            return None
        c = s.get("counts") or {}
        return (c.get("pending") or 0) + (c.get("running") or 0) + (c.get("dirty") or 0)

    converged = wait_until(lambda: not judge() and pending_count() == 0, args.converge, interval=1.0)
    problems = judge()
    t.diag(f"tables checked: {tally}")
    t.ok(converged and not problems, "every table equals its file's last version "
         "(or a valid earlier version where the file went away or turned invalid)",
         "\n".join(problems[:40]) + "\n" + d.tail(20))
    s = status_json(d)
    counts = (s or {}).get("counts") or {}
    t.ok(s is not None and counts.get("pending") == 0 and counts.get("running") == 0
         and counts.get("dirty", 0) == 0, "kbsyncd status shows nothing pending, running or dirty",
         json.dumps(counts) + " pending=" + json.dumps((s or {}).get("pending"))[:1000])
    if not t.ok(not crashes, "the daemon never died except by the test's signals",
                [describe_exit(rc) for rc, _ in crashes]):
        for line in crashes[0][1]:
            t.diag("  " + line)
    bad_terms = [(rc, tail) for rc, tail in terms if rc != 0]
    if not t.ok(not bad_terms, "every SIGTERM during churn ended in exit 0",
                [describe_exit(rc) for rc, _ in terms]):
        for line in bad_terms[0][1]:
            t.diag("  " + line)
    t.ok(d.proc.poll() is None, "the daemon is running at the end")

    rc, secs = d.stop()
    if not t.ok(rc == 0, f"TERM after convergence: exit 0 in {secs:.1f} s",
                f"{describe_exit(rc)}; the log ends:\n{d.tail(15)}"):
        for line in runs.stderr_tail():
            t.diag("  " + line)

    log = d.log()
    bad = bad_log_lines(log)
    t.ok(not bad, "every log line has the documented shape", "\n".join(bad[:10]))
    unexplained = []
    for line in log.splitlines():
        mm = re.match(r"^\S+ ERROR\s+(\w+)(.*)$", line)
        if not mm:
            continue
        event, rest = mm.groups()
        fm = re.search(r" file=(\S+)", rest)
        rel = fm.group(1).strip('"') if fm else None
        if event in INVALID_ERRORS and rel in m.invalid_paths:
            continue
        unexplained.append(line[:300])
    t.ok(not unexplained, "every ERROR is explained by an invalid file (header change or bad bytes)",
         "\n".join(unexplained[:20]))
    t.ok(not any(tid in rig.tables() for tid in
                 (table_id(*rel.split("/", 1)) for rel in m.ignored)),
         "no table exists for an ignored file")
    with_faults = [r for r in rig.requests() if r.get("fault")]
    t.diag(f"faults served: {len(with_faults)}; tables: {len(rig.tables())}; "
           f"ERROR lines: {log.count(' ERROR ')}; load_retry lines: {log.count('load_retry')}")
    t.ok(len(with_faults) > 0 or args.fault_rate == 0, "the emulator really injected faults")
    t.diag(f"seed={seed} (replay: SEED={seed})")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
