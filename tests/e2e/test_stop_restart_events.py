#!/usr/bin/env python3
"""What a stop leaves behind and what the next start makes of it
(docs/engine.md, "Stop" and "Files in state_dir"):

- a loaded file deleted while the daemon is stopped: the next start logs
  `file_missing_locally`, drops it from state.json and leaves its table in
  Keboola;
- TERM while a load waits for an import job that never finishes:
  after `shutdown_grace_s` the load is cancelled (`loads_cancelled`, WARN,
  naming the file), the exit code is 0, the file is recorded as pending,
  and the next start loads it."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import SLOW, Daemon, Rig, Tap, wait_until  # noqa: E402


def main():
    t = Tap()
    rig = Rig("gcp")
    d = Daemon(rig, settle_ms=100, grace_s=1)
    d.write("sales/a.csv", "id\n1\n")
    d.write("sales/b.csv", "id\n2\n")
    d.start()
    if not t.ok(wait_until(lambda: rig.table_rows("in.c-sales.a") == [["id"], ["1"]]
                           and rig.table_rows("in.c-sales.b") == [["id"], ["2"]], 30)
                and wait_until(d.quiet, 30), "both files loaded", d.tail()):
        return t.done()
    rc, _ = d.stop()
    t.ok(rc == 0, "TERM exits 0", d.tail())

    # --- a file deleted while stopped ------------------------------------
    os.remove(d.path("sales/b.csv"))
    d.start()
    t.ok(d.wait_log("file_missing_locally", timeout=30), "the restart logs file_missing_locally", d.tail())
    line = (d.log_lines("file_missing_locally") or [""])[0]
    t.ok(d.log_lines("file_missing_locally", level="INFO") and "file=sales/b.csv" in line and "table=in.c-sales.b" in line,
         "it is INFO and names the file and its table", line)
    t.ok(wait_until(lambda: d.quiet() and "sales/b.csv" not in ((d.state_json() or {}).get("files") or {})
                    and "sales/a.csv" in ((d.state_json() or {}).get("files") or {}), 30),
         "state.json forgets the deleted file and keeps the other", d.state_json())
    t.ok(rig.table_rows("in.c-sales.b") == [["id"], ["2"]], "the deleted file's table stays in Keboola")

    # --- TERM while an import job hangs ----------------------------------
    rig.faults(script=[{"method": "POST", "path": r"/import-async$", "kind": "stuck-job", "count": 1}])
    seq = rig.last_seq()
    d.write("sales/a.csv", "id\n1\n3\n", atomic=True)
    t.ok(wait_until(lambda: rig.count("POST", r"/tables/in\.c-sales\.a/import-async", since=seq) >= 1
                    and rig.count("GET", r"/v2/storage/jobs/", since=seq) >= 2, 30),
         "the import was sent and its job is being polled", rig.requests(seq))
    t.ok(wait_until(lambda: (d.status_json() or {}).get("counts", {}).get("running") == 1, 10),
         "status.json shows the load running", d.status_json())
    rc, took = d.stop()
    t.ok(rc == 0, f"TERM during a hung load exits 0 (took {took:.1f}s)", d.tail())
    # It waits the grace time for the hung load, and not much longer.
    t.ok(0.9 <= took < 6 * SLOW, f"the stop honours shutdown_grace_s = 1 ({took:.1f}s)")
    lines = d.log_lines("loads_cancelled", level="WARN")
    t.ok(lines and "files=sales/a.csv" in lines[0] and "action=" in lines[0],
         "loads_cancelled WARN names the cancelled file", d.tail())
    st = d.state_json() or {}
    t.ok("sales/a.csv" in (st.get("pending") or {}), "the cancelled file is recorded as pending", st.get("pending"))

    # --- the next start does the cancelled load ---------------------------
    seq = rig.last_seq()
    mark = len(d.log().splitlines())
    d.start()
    t.ok(wait_until(lambda: any("file=sales/a.csv" in l for l in d.log().splitlines()[mark:]
                                if " table_loaded " in l), 30),
         "the next start loads the cancelled file", d.tail())
    t.ok(rig.count("POST", r"/tables/in\.c-sales\.a/import-async", since=seq) == 1,
         "with one import", rig.requests(seq))
    t.ok(rig.table_rows("in.c-sales.a") == [["id"], ["1"], ["3"]], "the table holds the file's content",
         rig.table_rows("in.c-sales.a"))
    t.ok(wait_until(lambda: d.quiet() and not ((d.state_json() or {}).get("pending") or {}), 30),
         "nothing is pending afterwards", d.state_json())
    rc, _ = d.stop()
    t.ok(rc == 0, "TERM exits 0", d.tail())
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
