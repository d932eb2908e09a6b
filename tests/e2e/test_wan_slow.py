#!/usr/bin/env python3
"""An upload slower than http.timeout_ms lands (gcp rig behind the link
simulator): a 4 MiB CSV through 150 KB/s takes about 28 s, with
`http = { timeout_ms = 15000 }`.  Upload requests are bounded by stall
detection and http.upload_timeout_ms (0 = none), never by the API-call
timeout, so the one media upload completes on its first attempt."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap  # noqa: E402
from wanlib import csv_body, linksim, upload_requests  # noqa: E402

RATE = 150_000
SIZE = 4 * 1024 * 1024


def main():
    t = Tap()
    rig = Rig("gcp", KBSYNCD_LINK_STORAGE=f"rate={RATE},latency_ms=40")
    log = rig.env["KBSYNCD_LINK_STORAGE_LOG"]
    d = Daemon(rig, settle_ms=100, extra="http = { timeout_ms = 15000 },")
    body, rows = csv_body(SIZE)
    d.write("wan/slow.csv", body)
    r = d.once(timeout=90)
    t.ok(r.returncode == 0, f"once exits 0 (got {r.returncode})", r.stderr[-1500:] + d.tail())
    loaded = rig.table_rows("in.c-wan.slow")
    t.ok(loaded is not None and len(loaded) == rows + 1,
         f"the table has all {rows} rows", None if loaded is None else len(loaded))
    uploads = upload_requests(linksim.read_log(log))
    t.ok(len(uploads) == 1 and uploads[0]["complete"] and uploads[0]["body"] == len(body),
         "one upload request carried the whole file, no attempt cut and retried",
         [(u["method"], u["path"], u["body"], u["complete"]) for u in uploads])
    took = uploads[0]["end"] - uploads[0]["start"] if uploads else 0
    t.ok(took > 15, f"that request took {took:.1f} s, longer than http.timeout_ms (15 s)")
    t.ok(not any("Operation timed out" in line for line in d.log().splitlines()),
         "no timeout in the log", d.tail())
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
