"""Restarts: changes made while stopped, a deleted or corrupt state file,
kill -9 during an upload, TERM during an upload (grace, then the next start
finishes the work).  Uploads are counted in the emulator's request log."""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402

PROVIDER = sys.argv[1] if len(sys.argv) > 1 else "gcp"
UPLOAD_CLASS = {"gcp": "gcs", "aws": "s3", "azure": "files"}[PROVIDER]


def content(i, extra=""):
    return f"id,value\n{i},v{i}{extra}\n"


def main():
    t = Tap()
    rig = Rig(PROVIDER)
    d = Daemon(rig, grace_s=2)
    for i in range(1, 5):
        d.write(f"data/f{i}.csv", content(i))
    r = d.once()
    t.ok(r.returncode == 0, "once loads four new files and exits 0", r.stderr[-2000:] + d.tail())
    t.ok(len(rig.tables()) == 4, "four tables exist")

    # -- changes while stopped: f1 edited, f5 new, f2 touched (same bytes)
    d.write("data/f1.csv", content(1, "-edited"))
    d.write("data/f5.csv", content(5))
    os.utime(d.path("data/f2.csv"))
    seq = rig.last_seq()
    log_before = len(d.log().splitlines())
    d.start()
    t.ok(wait_until(lambda: rig.table_rows("in.c-data.f1") == [["id", "value"], ["1", "v1-edited"]]
                    and rig.table_rows("in.c-data.f5") is not None and d.quiet(), 30),
         "after a restart the edited and the new file are loaded", d.tail())
    uploads = rig.count("POST", r"/files/prepare$", since=seq)
    t.ok(uploads == 2, f"exactly 2 uploads after the restart (got {uploads}); the touched file was not uploaded")
    calls = rig.requests(since=seq)
    gets = [c for c in calls if c["method"] == "GET" and c["path"] in
            ("/v2/storage/buckets", "/v2/storage/tables", "/v2/storage/tokens/verify")]
    t.ok(len(gets) == 3, f"start-up reads the remote side in 3 calls (got {len(gets)})")
    new_lines = d.log().splitlines()[log_before:]
    t.ok(any("load_skipped_unchanged" in x and "data/f2.csv" in x for x in new_lines),
         "the touched file was restaged, found unchanged and skipped", "\n".join(new_lines[-20:]))

    # -- state file deleted: rebuilt from the remote side, nothing uploaded
    rc, _ = d.stop()
    os.remove(os.path.join(d.state, "state.json"))
    seq = rig.last_seq()
    d.start()
    t.ok(d.wait_log("state_rebuilt", level="WARN", timeout=20), "a deleted state file is reported (WARN state_rebuilt)", d.tail())
    t.ok(wait_until(lambda: d.quiet() and len((d.state_json() or {}).get("files", {})) == 5, 30),
         "the rebuilt state knows all five files", d.tail())
    calls = rig.requests(since=seq)
    t.ok(calls and not [x for x in calls if re.search(r"/files/prepare$", x["path"])],
         f"nothing was uploaded again after the state was deleted ({len(calls)} calls since the restart)")

    # -- corrupt state: same
    rc, _ = d.stop()
    with open(os.path.join(d.state, "state.json"), "w") as f:
        f.write("{not json")
    seq = rig.last_seq()
    d.start()
    t.ok(wait_until(lambda: d.quiet() and len((d.state_json() or {}).get("files", {})) == 5, 30),
         "a corrupt state file is rebuilt", d.tail())
    calls = rig.requests(since=seq)
    t.ok(calls and not [x for x in calls if re.search(r"/files/prepare$", x["path"])],
         f"nothing was uploaded again after the state was corrupt ({len(calls)} calls since the restart)")

    # -- kill -9 during an upload, then restart: converges
    rig.faults(slowMs=3000, script=[{"kind": "slow", "class": UPLOAD_CLASS, "count": 5}])
    seq = rig.last_seq()
    d.write("data/f3.csv", content(3, "-killed"))
    t.ok(wait_until(lambda: rig.count("POST", r"/files/prepare$", since=seq) >= 1, 20),
         "an upload started", d.tail())
    d.proc.kill()
    d.proc.wait()
    rig.faults(script=[], rate=0)
    d.start()
    t.ok(wait_until(lambda: rig.table_rows("in.c-data.f3") == [["id", "value"], ["3", "v3-killed"]] and d.quiet(), 30),
         "after kill -9 during an upload the restart loads the file", d.tail())
    t.ok(d.spool_files() == [], "no spool file is left behind", d.spool_files())

    # -- TERM during an upload slower than the grace time
    rig.faults(slowMs=6000, script=[{"kind": "slow", "class": UPLOAD_CLASS, "count": 1}])
    seq = rig.last_seq()
    d.write("data/f4.csv", content(4, "-term"))
    t.ok(wait_until(lambda: rig.count("POST", r"/files/prepare$", since=seq) >= 1, 20),
         "an upload started", d.tail())
    rc, took = d.stop(signal.SIGTERM)
    t.ok(rc == 0 and took < 2 + 2.5, f"TERM exits 0 within the grace time (rc={rc}, {took:.1f}s, grace 2s)", d.tail())
    st = d.state_json() or {}
    t.ok("data/f4.csv" in st.get("pending", {}), "the unfinished load is recorded as pending in the state", st.get("pending"))
    rig.faults(script=[], rate=0)
    d.start()
    t.ok(wait_until(lambda: rig.table_rows("in.c-data.f4") == [["id", "value"], ["4", "v4-term"]] and d.quiet(), 30),
         "the next start finishes the work", d.tail())

    # -- HUP: drain, reload config and scripts, reconcile, keep watching
    pid = d.proc.pid
    d.proc.send_signal(signal.SIGHUP)
    t.ok(wait_until(lambda: any("reason=reload" in x for x in d.log_lines("stopped")), 20),
         "HUP drains and reloads", d.tail())
    d.write("data/f2.csv", content(2, "-after-hup"))
    t.ok(wait_until(lambda: rig.table_rows("in.c-data.f2") == [["id", "value"], ["2", "v2-after-hup"]], 30),
         "after a reload changes are still picked up", d.tail())
    t.ok(d.proc.poll() is None and d.proc.pid == pid, "the same process keeps running")
    rc, _ = d.stop()
    t.ok(rc == 0, "the daemon stops cleanly")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
