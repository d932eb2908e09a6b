"""Hostile input, one `kbsyncd once` over a folder full of it.

Odd names (spaces, quotes, newlines, non-ASCII, leading dashes, shell
metacharacters, 255-byte names), symlinks leading out of the folder and
symlink loops, a FIFO and device nodes, an unreadable file, a 0-byte file,
a 20 GB sparse file and a binary file named .csv.  Expected: the run ends
quickly (nothing blocks on a FIFO or reads /dev/zero or 20 GB of holes),
with exit 1 (some files are not loadable) and no crash; every valid file is
a table holding exactly its content; nothing else was created; each
rejected or skipped file has a log line naming it; every log line keeps the
documented one-line shape.

The daemon runs without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (setpriv), so
the chmod 000 file is really unreadable although the tests run as root.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

from hostile import (Daemon, Rig, Tap, SLOW, bad_log_lines, csv_rows, no_dac_argv, on_exit,
                     table_id)

t = Tap()
rig = Rig("gcp")
d = Daemon(rig, settle_ms=100, extra='gzip_threshold = 1024,')
outside = tempfile.mkdtemp(prefix="kbsyncd-hostile-outside-")
on_exit(lambda: shutil.rmtree(outside, ignore_errors=True))
with open(os.path.join(outside, "secret.csv"), "w") as f:
    f.write("id,val\n1,OUTSIDE-SECRET\n")
os.makedirs(os.path.join(outside, "sub"))
with open(os.path.join(outside, "sub", "inner.csv"), "w") as f:
    f.write("id,val\n1,OUTSIDE-INNER\n")

valid = {}      # (folder, name) -> content; each must end up as a table


def put(folder, name, content=None, mode=None):
    os.makedirs(d.path(folder), exist_ok=True)
    p = os.path.join(d.path(folder), name)
    if content is None:
        content = f"id,val\n1,{len(valid)}-{folder!r}/{name!r}\n2,\"quoted, \"\"value\"\"\"\n"
        valid[(folder, name)] = content
    with open(p, "w", encoding="utf-8") as f:
        f.write(content)
    if mode is not None:
        os.chmod(p, mode)
    return p


# -- names ------------------------------------------------------------------
put("my folder", "with space.csv")
put("my folder", "q'uote\"d.csv")
put("ünïcode", "données é.csv")
put("-dash", "-rf.csv")
put("-dash", "--help.csv")
put("-dash", "`id`.csv")
put("nl\nfolder", "new\nline.csv")
put("shell", "$(touch pwned); echo x.csv")
put("shell", "a|b&c>d.csv")
put("long", "a" * 251 + ".csv")                 # 255-byte file name
put("b" * 255, "x.csv")                          # 255-byte folder name
# -- symlinks -----------------------------------------------------------------
put("links", "real.csv")
os.symlink(os.path.join(outside, "secret.csv"), d.path("links/out.csv"))
os.symlink("loop.csv", d.path("links/loop.csv"))                # points at itself
os.symlink("..", d.path("links/up"))                            # directory loop
os.symlink(os.path.join(outside, "sub"), d.path("links/subdir"))
os.symlink(outside, d.path("linkedfolder"))                     # a "bucket" outside
# -- special files ------------------------------------------------------------
put("special", "real.csv")
os.mkfifo(d.path("special/fifo.csv"))
os.mknod(d.path("special/null.csv"), 0o644 | 0o020000, os.makedev(1, 3))   # /dev/null
os.mknod(d.path("special/zero.csv"), 0o644 | 0o020000, os.makedev(1, 5))   # /dev/zero
# -- content ------------------------------------------------------------------
put("content", "ok.csv")
put("content", "empty.csv", "")
with open(d.path("content/binary.csv"), "wb") as f:
    f.write(bytes(range(256)) * 64 + b"\x00\xff\xfe" * 100)
with open(d.path("content/sparse.csv"), "wb") as f:
    f.truncate(20 * 1024 ** 3)                   # 20 GB of holes
put("content", "unreadable.csv", "id,val\n1,UNREADABLE\n", mode=0o000)

rejected = ["content/empty.csv", "content/binary.csv", "content/sparse.csv",
            "content/unreadable.csv"]
skipped = ["special/fifo.csv", "special/null.csv", "special/zero.csv", "links/out.csv",
           "links/loop.csv"]

# The capability drop really makes the file unreadable for the daemon.
probe = subprocess.run(no_dac_argv() + ["cat", d.path("content/unreadable.csv")],
                       capture_output=True)
t.ok(probe.returncode != 0, "without CAP_DAC_* even root cannot read a chmod 000 file",
     probe.stdout)

# -- one run ------------------------------------------------------------------
cwd = tempfile.mkdtemp(prefix="kbsyncd-hostile-cwd-")
on_exit(lambda: shutil.rmtree(cwd, ignore_errors=True))
t0 = time.monotonic()
try:
    r = subprocess.run(no_dac_argv() + d.argv("once"), env=d.env(), capture_output=True,
                       text=True, timeout=120 * SLOW, cwd=cwd)
    rc, out = r.returncode, r.stdout + r.stderr
except subprocess.TimeoutExpired as e:
    rc, out = None, f"timed out: {e}"
elapsed = time.monotonic() - t0
t.diag(f"once took {elapsed:.1f} s, exit {rc}")
t.ok(rc == 1, "once ends with exit 1 (some files are not loadable), no crash", out[-3000:] + d.tail())
t.ok(elapsed < 30 * SLOW, "it ends quickly: no FIFO, device or 20 GB sparse file is read through",
     f"{elapsed:.1f} s")

log = d.log()
bad = bad_log_lines(log)
t.ok(not bad, "every log line keeps the one-line shape (names with newlines are escaped)",
     "\n".join(repr(b) for b in bad[:10]))

# -- what Keboola holds -----------------------------------------------------------
tables = rig.tables()
expected = {table_id(folder, name): content for (folder, name), content in valid.items()}
for tid, content in sorted(expected.items()):
    rows = rig.table_rows(tid)
    t.ok(rows == csv_rows(content), f"table {tid[:60]} holds its file's content",
         f"expected {csv_rows(content)!r}\ngot {rows!r}")
extra = sorted(set(tables) - set(expected))
t.ok(not extra, "no table for a rejected, skipped or outside file", extra)
t.ok("in.c-linkedfolder" not in rig.buckets(), "a symlinked folder is not a bucket", rig.buckets())
leaked = [tid for tid in tables if any("OUTSIDE" in c for row in (rig.table_rows(tid) or [])
                                       for c in row)]
t.ok(not leaked, "nothing from outside the watched folder was uploaded", leaked)
t.ok(not os.path.exists(os.path.join(cwd, "pwned")) and not os.path.exists(d.path("shell/pwned")),
     "no shell ran a file name ($(touch pwned) did nothing)")

# -- each rejected or skipped file has a line naming it ------------------------
for rel in rejected:
    lines = [ln for ln in log.splitlines() if rel in ln and (" ERROR " in ln or " WARN " in ln)]
    t.ok(lines, f"{rel}: an ERROR/WARN line names it", d.tail(30))
    if lines:
        t.diag(lines[0][:300])
skip_rx = {rel: re.compile(r"^\S+ \w+\s+entry_skipped\b.* file=" + re.escape(rel) + r"(\s|$)")
           for rel in skipped}
for rel in skipped:
    lines = [ln for ln in log.splitlines() if skip_rx[rel].match(ln)]
    t.ok(lines, f"{rel}: an entry_skipped line names it", d.tail(30))
    if lines:
        t.diag(lines[0][:300])


def error_of(rel):
    """The error= field of the first ERROR line naming rel."""
    import re
    for ln in log.splitlines():
        if " ERROR " in ln and f"file={rel} " in ln:
            m = re.search(r' error="((?:[^"\\]|\\.)*)"', ln) or re.search(r" error=(\S+)", ln)
            return m.group(1) if m else ""
    return None


# The error says what is wrong, so the user can fix the file.
for rel, needles, what in [
        ("content/empty.csv", ["empty"], "says the file is empty"),
        ("content/binary.csv", ["UTF-8", "byte offset"], "names the bad byte (UTF-8, byte offset)"),
        ("content/sparse.csv", ["NUL", "byte offset 0"], "names the NUL byte at offset 0"),
        ("content/unreadable.csv", ["Permission denied"], "says permission denied")]:
    err = error_of(rel)
    t.ok(err is not None and all(n in err for n in needles), f"{rel}: the error {what}",
         f"error={err!r}")

# -- status still works with these names ------------------------------------------
st = d.command("status")
t.ok(st.returncode in (0, 1) and "Traceback" not in st.stdout + st.stderr,
     "kbsyncd status works with these names", st.stdout[-2000:] + st.stderr[-2000:])
sys_exit = t.done()
raise SystemExit(sys_exit)
