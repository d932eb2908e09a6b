"""valgrind memcheck over one representative end-to-end path.

Against a gcp rig: `kbsyncd once` over a folder with a few CSVs (one above
a lowered gzip threshold, so the gzip path runs; one in another dialect;
one invalid), then `kbsyncd run` with one edit picked up and loaded, then
TERM.  Each run is under
  valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
so any invalid read/write, use of uninitialised memory or definite leak
fails the test (exit 99).  Skipped (TAP "ok # SKIP") when valgrind is not
installed.  KBSYNCD_BIN picks the binary (a plain -O2 -g build; valgrind
cannot run an ASan build).
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "hostile"))
from hostile import BIN, Daemon, Rig, Tap, csv_rows, wait_until  # noqa: E402

t = Tap()
if not shutil.which("valgrind"):
    print("1..0 # SKIP valgrind is not installed")
    raise SystemExit(0)
if "asan" in BIN:
    print("1..0 # SKIP valgrind cannot run an ASan build")
    raise SystemExit(0)

rig = Rig("gcp")
d = Daemon(rig, settle_ms=200, extra="gzip_threshold = 64 * 1024, sniff_bytes = 4096,")
VG = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
      "--show-leak-kinds=definite", "--track-origins=yes", "--num-callers=30"]

big = "id,name,amount\n" + "".join(f"{i},name {i},{i * 3.5}\n" for i in range(12000))
d.write("vg/big.csv", big)
d.write("vg/small.csv", "id,val\n1,a\n2,\"b, with comma\"\n")
d.write("vg/semi.csv", "id;val\n1;x\n2;y\n")
with open(d.path("vg/bad.csv"), "wb") as f:
    f.write(b"id,val\n1,\xff\xfe\n")

vglog = os.path.join(d.base, "valgrind-once.txt")
r = subprocess.run(VG + [f"--log-file={vglog}"] + d.argv("once"), env=d.env(), capture_output=True,
                   text=True, timeout=600)
with open(vglog) as f:
    report = f.read()
summary = [ln for ln in report.splitlines() if "ERROR SUMMARY" in ln or "definitely lost" in ln]
t.diag("once: " + " | ".join(s.split("== ", 1)[-1] for s in summary))
t.ok(r.returncode == 1, "once under valgrind: exit 1 (bad.csv is invalid), not 99",
     f"exit {r.returncode}\n{report[-4000:]}")
t.ok("ERROR SUMMARY: 0 errors" in report, "once: memcheck reports 0 errors", report[-4000:])
t.ok(rig.table_rows("in.c-vg.big") == csv_rows(big), "the gzipped file was loaded under valgrind")
t.ok(rig.table_rows("in.c-vg.semi") == [["id", "val"], ["1", "x"], ["2", "y"]],
     "the ;-delimited file was loaded")

vglog = os.path.join(d.base, "valgrind-run.txt")
out = open(os.path.join(d.base, "run-out.txt"), "w")
d.proc = subprocess.Popen(VG + [f"--log-file={vglog}"] + d.argv("run"), env=d.env(), stdout=out,
                          stderr=subprocess.STDOUT)
t.ok(d.wait_log("watching", count=1, timeout=120), "run under valgrind is watching", d.tail())
d.write("vg/small.csv", "id,val\n1,edited\n")
t.ok(wait_until(lambda: rig.table_rows("in.c-vg.small") == [["id", "val"], ["1", "edited"]], 120),
     "an edit is loaded under valgrind", d.tail())
rc, secs = d.stop(timeout=120)
with open(vglog) as f:
    report = f.read()
summary = [ln for ln in report.splitlines() if "ERROR SUMMARY" in ln or "definitely lost" in ln]
t.diag(f"run: stopped in {secs:.1f} s; " + " | ".join(s.split("== ", 1)[-1] for s in summary))
t.ok(rc == 0, "run under valgrind: TERM exits 0 (not 99)", f"exit {rc}\n{report[-4000:]}")
t.ok("ERROR SUMMARY: 0 errors" in report, "run: memcheck reports 0 errors", report[-4000:])
raise SystemExit(t.done())
