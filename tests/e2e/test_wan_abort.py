#!/usr/bin/env python3
"""An S3 multipart upload cut off by a stop is aborted (aws rig behind the
link simulator, uplink slow enough that the upload is still running when
TERM comes and shutdown_grace_s runs out): `loads_cancelled`, then a
DELETE ?uploadId reaches the file storage for the upload the daemon
started, so its parts are not left behind; the file is owed to the next
start, which loads it."""
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402
from wanlib import csv_body, linksim  # noqa: E402

MB = 1024 * 1024


def requests_with(log, method, key):
    out = []
    for r in linksim.read_log(log):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r["path"]).query, keep_blank_values=True))
        if r["method"] == method and key in query:
            out.append((r, query))
    return out


def main():
    t = Tap()
    rig = Rig("aws", KBSYNCD_LINK_STORAGE="rate=300000")
    log = rig.env["KBSYNCD_LINK_STORAGE_LOG"]
    d = Daemon(rig, settle_ms=100, grace_s=1,
               extra="upload = { s3_single_max = 1, s3_part_size = 5242880, parallel = 1 },")
    body, rows = csv_body(11 * MB)
    d.write("wan/big.csv", body)
    d.start()
    started = wait_until(lambda: requests_with(log, "POST", "uploads"), 60)
    t.ok(started, "the multipart upload started", d.tail())
    rc, took = d.stop()
    t.ok(rc == 0, f"TERM exits 0 (rc={rc}, {took:.1f} s)", d.tail())
    t.ok(d.log_lines("loads_cancelled", level="WARN"), "the running load was cancelled at the end of the grace",
         d.tail())
    deletes = [q for r, q in requests_with(log, "DELETE", "uploadId") if r["complete"]]
    t.ok(len(deletes) >= 1, f"the unfinished multipart upload was aborted ({len(deletes)} DELETE ?uploadId)",
         d.tail())
    s = d.state_json() or {}
    t.ok("wan/big.csv" in s.get("pending", {}), "the file is owed to the next start", s.get("pending"))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
