#!/usr/bin/env python3
"""upload.parallel: S3 parts and Azure blocks of one file go up at once
(aws and azure rigs behind the link simulator, uplink capped per
connection).  The simulator's request log shows the parts in flight: at
least 2 at the same moment with upload.parallel = 4, exactly 1 with
upload.parallel = 1; every file loads in full."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap  # noqa: E402
from wanlib import csv_body, linksim, upload_requests  # noqa: E402

MB = 1024 * 1024


def load(t, rig, log, name, size, upload_cfg, parallel):
    """Loads one file with upload.parallel = parallel; its upload requests."""
    before = len(linksim.read_log(log))
    d = Daemon(rig, settle_ms=100, extra=f"upload = {{ {upload_cfg}, parallel = {parallel} }},")
    body, rows = csv_body(size)
    d.write(f"wan/{name}.csv", body)
    started = time.monotonic()
    r = d.once(timeout=60)
    took = time.monotonic() - started
    t.ok(r.returncode == 0, f"{rig.provider} parallel={parallel}: once exits 0 in {took:.1f} s",
         r.stderr[-1500:] + d.tail())
    loaded = rig.table_rows(f"in.c-wan.{name}")
    t.ok(loaded is not None and len(loaded) == rows + 1,
         f"{rig.provider} parallel={parallel}: the table has all {rows} rows",
         None if loaded is None else len(loaded))
    uploads = upload_requests(linksim.read_log(log)[before:])
    t.ok(sum(u["body"] for u in uploads) == len(body) and all(u["complete"] for u in uploads),
         f"{rig.provider} parallel={parallel}: {len(uploads)} parts carried the file once",
         [(u["path"], u["body"]) for u in uploads])
    return uploads


def main():
    t = Tap()
    # aws: parts are at least 5 MiB (S3's minimum); three of them.
    rig = Rig("aws", KBSYNCD_LINK_STORAGE="rate=4000000,latency_ms=20")
    log = rig.env["KBSYNCD_LINK_STORAGE_LOG"]
    cfg = "s3_single_max = 1, s3_part_size = 5242880"
    four = load(t, rig, log, "four", 11 * MB, cfg, 4)
    peak = linksim.max_in_flight(four)
    t.ok(len(four) == 3 and peak >= 2, f"aws parallel=4: {peak} parts in flight at once (want >= 2)")
    one = load(t, rig, log, "one", 11 * MB, cfg, 1)
    peak = linksim.max_in_flight(one)
    t.ok(len(one) == 3 and peak == 1, f"aws parallel=1: {peak} part in flight at once (want 1)")
    rig.down()
    # azure: blocks of 512 KiB, 2 MiB through 1 MB/s per connection.
    rig = Rig("azure", KBSYNCD_LINK_STORAGE="rate=1000000,latency_ms=20")
    log = rig.env["KBSYNCD_LINK_STORAGE_LOG"]
    cfg = "abs_single_max = 1, abs_block_size = 524288"
    four = load(t, rig, log, "four", 2 * MB, cfg, 4)
    peak = linksim.max_in_flight(four)
    t.ok(len(four) >= 4 and peak >= 2, f"azure parallel=4: {peak} blocks in flight at once (want >= 2)")
    one = load(t, rig, log, "one", 2 * MB, cfg, 1)
    peak = linksim.max_in_flight(one)
    t.ok(len(one) >= 4 and peak == 1, f"azure parallel=1: {peak} block in flight at once (want 1)")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
