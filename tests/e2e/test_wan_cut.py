#!/usr/bin/env python3
"""A connection cut mid-upload re-sends only what was unfinished (aws,
azure and gcp rigs, the link simulator resetting the first connection that
carries more than the cut point; Azure with its blocks in parallel).  By the bytes the simulator forwarded: a cut
happened, the file loads in full, and everything sent up is less than the
file plus one part (S3 part, Azure block, GCS chunk), so far less than 2x."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap  # noqa: E402
from wanlib import csv_body, linksim, upload_requests  # noqa: E402

MB = 1024 * 1024
CASES = [
    # provider, file size, part size, upload settings, cut point in a connection
    ("aws", 11 * MB, 5 * MB, "s3_single_max = 1, s3_part_size = 5242880, parallel = 1", 7 * MB),
    ("azure", 4 * MB, MB, "abs_single_max = 1, abs_block_size = 1048576", MB // 2),
    ("gcp", 4 * MB, MB, "gcs_single_max = 1, gcs_chunk_size = 1048576", 5 * MB // 2),
]


def main():
    t = Tap()
    for provider, size, part, cfg, cut in CASES:
        rig = Rig(provider, KBSYNCD_LINK_STORAGE=f"cut_after={cut},cuts=1")
        log = rig.env["KBSYNCD_LINK_STORAGE_LOG"]
        d = Daemon(rig, settle_ms=100, extra=f"upload = {{ {cfg} }},")
        body, rows = csv_body(size)
        d.write("wan/cut.csv", body)
        r = d.once(timeout=60)
        t.ok(r.returncode == 0, f"{provider}: once exits 0", r.stderr[-1500:] + d.tail())
        loaded = rig.table_rows("in.c-wan.cut")
        t.ok(loaded is not None and len(loaded) == rows + 1,
             f"{provider}: the table has all {rows} rows", None if loaded is None else len(loaded))
        uploads = upload_requests(linksim.read_log(log))
        cuts = [u for u in uploads if u["cut"]]
        t.ok(len(cuts) == 1 and 0 < cuts[0]["body"] < cuts[0]["length"],
             f"{provider}: one upload request was cut mid-body",
             [(u["path"], u["body"], u["length"], u["cut"]) for u in uploads])
        sent = sum(u["body"] for u in uploads)
        t.ok(len(body) < sent <= len(body) + part,
             f"{provider}: {sent} bytes sent for a file of {len(body)} (at most one part "
             f"of {part} again; under 2x)")
        rig.down()
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
