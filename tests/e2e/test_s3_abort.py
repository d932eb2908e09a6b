#!/usr/bin/env python3
"""An S3 multipart upload that fails, and whose abort fails too (aws rig):
the daemon logs `s3_abort_failed` (WARN, naming the upload) and does not
give up the file: it is retried (`load_retry`) and loaded once S3 answers
again.  Parts are forced with a tiny `upload.s3_single_max`; the failures
are scripted emulator faults on the S3 gate."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, http, wait_until  # noqa: E402

ROWS = 160_000  # about 6 MiB: two parts of the 5 MiB minimum


def main():
    t = Tap()
    rig = Rig("aws")
    d = Daemon(rig, settle_ms=100,
               extra="upload = { s3_single_max = 1, s3_part_size = 5242880, parallel = 1 }, retry = { base_ms = 50, cap_ms = 500, max_attempts = 2 },")
    # Parts go one at a time (parallel = 1) so that the two failures both
    # hit the first part's two attempts; then each of the
    # abort's attempts fails.
    rig.faults(script=[
        {"class": "s3", "method": "PUT", "kind": "500", "count": 2},
        {"class": "s3", "method": "DELETE", "kind": "500", "count": 3},
    ])
    body = "id,text\n" + "".join(f"{i},row {i:08d} padding padding\n" for i in range(ROWS))
    d.write("big/rows.csv", body)
    t.diag(f"file of {len(body)} bytes")
    d.start()
    if not t.ok(d.wait_log("s3_abort_failed", level="WARN", timeout=60),
                "a failed multipart upload whose abort fails too logs WARN s3_abort_failed", d.tail()):
        return t.done()  # the rest follows from it
    line = (d.log_lines("s3_abort_failed") or [""])[0]
    t.ok("upload_id=" in line, "the WARN names the multipart upload", line)
    # The S3 gate's requests are not in the request log; the faults it
    # served are in the fault history.
    served = [h for h in json.loads(http("GET", f"{rig.url}/_emulator/faults")[1])["history"]
              if h.get("class") == "s3" and h.get("method") == "DELETE"]
    t.ok(len(served) == 3, f"the abort was tried three times ({len(served)} failed DELETEs)", served)
    t.ok(d.wait_log("load_retry", level="WARN", timeout=30), "the load is retried, not given up", d.tail())
    rows = wait_until(lambda: (lambda r: r if r and len(r) == ROWS + 1 else None)(rig.table_rows("in.c-big.rows")), 90)
    t.ok(rows and rows[1] == ["0", "row 00000000 padding padding"] and rows[-1][0] == str(ROWS - 1),
         "the file is loaded in full once S3 answers again", d.tail())
    rc, _ = d.stop()
    t.ok(rc == 0, "TERM exits 0", d.tail())
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
