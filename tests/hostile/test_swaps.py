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
raise SystemExit(t.done())
