"""A file truncated, or deleted, while the daemon is staging it.

The daemon runs (`kbsyncd run`) with a low gzip threshold and small staging
steps so staging a ~60 MB file takes long enough to interfere with.  The
test waits until the daemon holds the file open (/proc/PID/fd), then:

1. truncates it in place and writes a small valid CSV: the table must end
   up holding exactly the small version (never the big one, never a mix);
2. deletes it: no table may be created for it, the daemon keeps running and
   a line names the file.
"""
import os
import random
import time

from hostile import Daemon, Rig, Tap, csv_rows, open_fds_to, wait_until

t = Tap()
rig = Rig("gcp")
d = Daemon(rig, settle_ms=150,
           extra="gzip_threshold = 1024 * 1024, gzip_level = 9, stage_step_bytes = 65536,")


def big(rel, mb=60):
    p = d.path(rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    rnd = random.Random(7)
    row = ",".join(str(rnd.randrange(10 ** 9)) for _ in range(8)) + "\n"
    block = ("a,b,c,d,e,f,g,h\n" + row * 20000).encode()
    with open(p + ".tmp", "wb") as f:
        f.write(block)
        while f.tell() < mb * 1024 * 1024:
            f.write(row.encode() * 20000)
    os.rename(p + ".tmp", p)   # ".tmp" names are ignored; the rename is the arrival
    return p


def caught_staging(path, timeout=30):
    return wait_until(lambda: open_fds_to(d.proc.pid, path) > 0, timeout, interval=0.005)


d.write("race/seed.csv", "id\n1\n")          # the bucket exists before the races
d.start()
t.ok(wait_until(lambda: rig.table_rows("in.c-race.seed") == [["id"], ["1"]], 30),
     "daemon up, bucket ready", d.tail())

# 1. truncated during staging -------------------------------------------------
p = big("race/shrinks.csv")
t.ok(caught_staging(p), "caught the daemon staging shrinks.csv", d.tail())
small = "a,b\n1,after-truncate\n"
with open(p, "r+") as f:
    f.truncate(0)
    f.write(small)
rows = wait_until(lambda: rig.table_rows("in.c-race.shrinks") == csv_rows(small), 60)
t.ok(rows, "the table holds exactly the truncated file's new content",
     f"{str(rig.table_rows('in.c-race.shrinks'))[:300]}\n{d.tail()}")
t.ok(d.proc.poll() is None, "daemon still running after the truncation")
t.ok(any(w in d.log() for w in ("unstable", "file_unstable", "changed while")),
     "a line says the file changed while it was read", d.tail())

# 2. deleted during staging ---------------------------------------------------
p = big("race/vanishes.csv")
t.ok(caught_staging(p), "caught the daemon staging vanishes.csv", d.tail())
os.unlink(p)
# The daemon has seen the deletion when a line names the file after the unlink.
t.ok(wait_until(lambda: open_fds_to(d.proc.pid, p) == 0, 60), "the daemon let go of the deleted file")
named = wait_until(lambda: [ln for ln in d.log().splitlines()
                            if "race/vanishes.csv" in ln and any(
                                w in ln for w in ("gone", "deleted", "missing", "vanish"))], 30)
t.ok(named, "a line says the file is gone", d.tail())
# A later marker file proves the queue moved on; by then no table may exist.
d.write("race/after.csv", "id\n2\n")
t.ok(wait_until(lambda: rig.table_rows("in.c-race.after") == [["id"], ["2"]], 60),
     "the daemon goes on loading other files", d.tail())
t.ok("in.c-race.vanishes" not in rig.tables(), "no table was created for the deleted file",
     d.tail())
t.ok(d.proc.poll() is None, "daemon still running")
if os.environ.get("KBSYNCD_SHOW_LOG"): print("\n".join("# " + ln for ln in d.log().splitlines() if "race/" in ln))
rc, _ = d.stop()
t.ok(rc == 0, "TERM: exit 0", d.tail())
raise SystemExit(t.done())
