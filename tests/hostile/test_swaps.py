"""A regular file swapped for a symlink or a FIFO after the daemon saw it.

The scanner never follows symlinks and skips FIFOs (test_inputs.py), but
what the scanner saw may be replaced before the file is staged: an event
arrives for a regular file, and during the settle time the path is renamed
over by a symlink to a file outside the watched folder, or by a FIFO.
Expected: the symlink's target is never read or uploaded; a FIFO never
blocks the daemon (opening a FIFO without O_NONBLOCK waits for a writer,
and the daemon has one thread); a line says the entry is skipped.
"""
import os
import shutil
import tempfile

from hostile import Daemon, Rig, Tap, on_exit, table_id, wait_until

t = Tap()
rig = Rig("gcp")
d = Daemon(rig, settle_ms=300)
outside = tempfile.mkdtemp(prefix="kbsyncd-hostile-outside-")
on_exit(lambda: shutil.rmtree(outside, ignore_errors=True))
secret = os.path.join(outside, "secret.csv")
with open(secret, "w") as f:
    f.write("id,val\n1,OUTSIDE-SECRET\n")

d.write("swap/seed.csv", "id\n1\n")
d.start()
t.ok(wait_until(lambda: rig.table_rows("in.c-swap.seed") == [["id"], ["1"]], 30),
     "daemon up, bucket ready", d.tail())


def swap_in(rel, make):
    """Write rel as a regular CSV, then rename something else over it at once."""
    p = d.path(rel)
    with open(p, "w") as f:
        f.write("id,val\n1,regular\n")
    tmp = d.path("swap/.swap-tmp")
    make(tmp)
    os.rename(tmp, p)


for rel, make, what in [
        ("swap/link.csv", lambda tmp: os.symlink(secret, tmp), "a symlink to a file outside"),
        ("swap/fifo.csv", os.mkfifo, "a FIFO")]:
    swap_in(rel, make)
    # The daemon must still be responsive: a file written afterwards is loaded.
    marker = rel.replace(".csv", "-after.csv")
    d.write(marker, "id\n2\n")
    mtid = table_id("swap", os.path.basename(marker))
    t.ok(wait_until(lambda: rig.table_rows(mtid) == [["id"], ["2"]], 20),
         f"{what} renamed over a CSV: the daemon goes on (a later file is loaded)", d.tail())
    tid = table_id("swap", os.path.basename(rel))
    rows = rig.table_rows(tid) or []
    t.ok(not any("OUTSIDE" in c for row in rows for c in row),
         f"{what}: nothing outside the folder was uploaded", rows)
    t.ok(rows in ([], [["id", "val"], ["1", "regular"]]),
         f"{what}: the table is absent or holds the regular file's content", rows)

t.ok(d.proc.poll() is None, "daemon still running")
rc, secs = d.stop(timeout=20)
t.ok(rc == 0, f"TERM: exit 0 ({secs:.1f} s)", d.tail())

# -- the wider window: scanned at start, staged seconds later -----------------
# With max_parallel = 1 a start-up reconcile queues every file at once and
# stages them one after another, so a file swapped after the scan but before
# its turn is opened long after the scanner looked at it.
import subprocess  # noqa: E402
import time  # noqa: E402
from hostile import SLOW  # noqa: E402

d.write_config(settle_ms=300, extra="max_parallel = 1,")
names = [f"q{i:02d}.csv" for i in range(20)]
for n in names:
    d.write(f"queue/{n}", f"id,val\n1,{n}\n")
p = subprocess.Popen(d.argv("once"), env=d.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
on_exit(lambda: p.poll() is None and p.kill())
t.ok(wait_until(lambda: d.log().count("file_uploaded") >= 5, 60, interval=0.01),
     "once is loading the queue one file at a time", d.tail())
uploaded = {ln.split("file=")[1].split()[0] for ln in d.log().splitlines() if " file_uploaded " in ln}
loaded = [n for n in names if n in uploaded]   # file= is the upload's name
later = [n for n in names if n not in loaded][2:]   # not yet started
t.diag(f"uploaded from queue/ before the swap: {loaded}")
t.ok(len(later) >= 5, f"files still queued when swapped: {len(later)} of {len(names)}",
     f"{sorted(loaded)}\n{d.tail()}")
for i, n in enumerate(later):
    tmp = d.path("queue/.swap-tmp")
    if i % 2:
        os.mkfifo(tmp)
    else:
        os.symlink(secret, tmp)
    os.rename(tmp, d.path(f"queue/{n}"))
try:
    out, _ = p.communicate(timeout=120 * SLOW)
    rc = p.returncode
except subprocess.TimeoutExpired:
    p.kill()
    out, rc = p.communicate()[0], None
t.ok(rc is not None, "once ends: a FIFO swapped in after the scan does not block the daemon",
     d.tail(15))
queue_tables = [tid for tid in rig.tables() if tid.startswith("in.c-queue.")]
t.ok(loaded and all(f"in.c-queue.{n[:-4]}" in queue_tables for n in loaded),
     f"the files uploaded before the swap are tables ({len(queue_tables)} queue tables)", queue_tables)
leaked = [tid for tid in queue_tables
          if any("OUTSIDE" in c for row in (rig.table_rows(tid) or []) for c in row)]
t.ok(not leaked, "a symlink swapped in after the scan is not followed: nothing outside uploaded",
     f"{leaked}\n" + "\n".join(ln for ln in d.log().splitlines() if "queue/" in ln and
                                 ("skipped" in ln or "ERROR" in ln or "WARN" in ln))[-2000:])
raise SystemExit(t.done())
