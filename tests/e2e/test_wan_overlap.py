#!/usr/bin/env python3
"""Staging and upload overlapped (upload.overlap, default on): a gzipped
file's S3 parts, Azure blocks and GCS chunks go up while the rest of it is
still read and compressed, on the aws, azure and gcp rigs behind the link
simulator.

For each of the three:
- a new file larger than gzip_threshold: `file_staged` says
  upload_started, the first part reached the file storage before staging
  ended (the simulator's request log against the log's `file_staged`
  time), the parts carried the spool exactly once, `file_uploaded` says
  streamed, and the table holds every row;
- a change of the same size (it might be a touch: its upload could be for
  nothing) is staged first and uploaded after, not overlapped;
- a change whose end is not UTF-8 is refused (`csv_invalid_encoding`)
  although parts of it were already sent: nothing is imported, the table
  keeps the last good version, and (aws) the multipart upload is aborted.
gzip_level = 9 and steps of 256 KiB (stage_step_bytes) let the upload's
requests in between staging's steps often enough that "before staging
ended" is a margin of about a second, not a race."""
import datetime
import os
import random
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap  # noqa: E402
from wanlib import linksim, upload_requests  # noqa: E402

ROWS = 240_000  # about 30 MB of hex: about 16 MB gzipped, 4 parts of 5 MiB

UPLOAD = {
    "aws": "s3_single_max = 1, s3_part_size = 5242880",
    "azure": "abs_single_max = 1, abs_block_size = 2097152",
    "gcp": "gcs_single_max = 1, gcs_chunk_size = 1048576",
}


def hex_csv(seed, rows=ROWS):
    """id,payload with random hex: it compresses to about half, so the
    gzipped spool still spans several parts."""
    rnd = random.Random(seed)
    lines = ["id,payload\n"]
    for i in range(rows):
        lines.append(f"{i:09d},{rnd.getrandbits(448):0112x}\n")
    return "".join(lines)


def log_time(line):
    """The wall time (epoch seconds) of a log line: its first field."""
    stamp = line.split(" ", 1)[0].rstrip("Z")
    return datetime.datetime.fromisoformat(stamp).replace(
        tzinfo=datetime.timezone.utc).timestamp()


def field(line, key):
    for part in line.split():
        if part.startswith(key + "="):
            return part.split("=", 1)[1].strip('"')
    return None


def one_load(t, d, rig, log, name, body, label):
    """Writes body, runs once; returns (staged line, upload requests)."""
    before = len(linksim.read_log(log))
    seen = len(d.log_lines("file_staged"))
    d.write(f"wan/{name}.csv", body)
    r = d.once(timeout=120)
    t.ok(r.returncode == 0, f"{rig.provider} {label}: once exits 0", r.stderr[-1500:] + d.tail())
    staged = d.log_lines("file_staged")[seen:]
    t.ok(len(staged) == 1, f"{rig.provider} {label}: staged once", d.tail())
    return (staged[0] if staged else ""), upload_requests(linksim.read_log(log)[before:])


def check_new_file(t, d, rig, log):
    body = hex_csv(1)
    staged, parts = one_load(t, d, rig, log, "big", body, "new file")
    overlapped = True
    t.ok(field(staged, "upload_started") == "true" and field(staged, "gzip") == "true",
         f"{rig.provider} new file: gzipped, its upload started during staging", staged)
    ended = log_time(staged) if staged else 0
    first = min((p["start"] for p in parts), default=None)
    t.ok(first is not None and first < ended - 0.1,
         f"{rig.provider} new file: the first part went up before staging ended "
         f"({(ended - first) if first else 0:.2f} s before)", staged)
    spool = int(field(staged, "spool_bytes") or -1)
    t.ok(sum(p["body"] for p in parts) == spool and all(p["complete"] for p in parts)
         and len(parts) >= 3,
         f"{rig.provider} new file: {len(parts)} parts carried the {spool}-byte spool once",
         [(p["path"], p["body"]) for p in parts])
    up = (d.log_lines("file_uploaded") or [""])[-1]
    t.ok((field(up, "streamed") == "true") == overlapped and field(up, "bytes") == str(spool),
         f"{rig.provider} new file: file_uploaded names the spool's size, streamed={overlapped}", up)
    rows = rig.table_rows("in.c-wan.big")
    t.ok(rows is not None and len(rows) == ROWS + 1 and rows[-1][0] == f"{ROWS - 1:09d}",
         f"{rig.provider} new file: the table holds all {ROWS} rows",
         None if rows is None else len(rows))
    return body


def check_same_size(t, d, rig, log):
    body = hex_csv(2)  # same length, other bytes
    staged, parts = one_load(t, d, rig, log, "big", body, "same-size change")
    t.ok(field(staged, "upload_started") is None,
         f"{rig.provider} same-size change: its upload did not start during staging", staged)
    ended = log_time(staged) if staged else 0
    t.ok(parts and min(p["start"] for p in parts) >= ended - 0.01,
         f"{rig.provider} same-size change: uploaded after staging", staged)
    rows = rig.table_rows("in.c-wan.big")
    t.ok(rows is not None and rows[1][1] == body.split("\n")[1].split(",")[1],
         f"{rig.provider} same-size change: the table holds the new content")
    return body


def check_refused(t, d, rig, log, good):
    before_log = len(linksim.read_log(log))
    imports_before = rig.count("POST", "import-async") + rig.count("POST", "tables-async")
    seen = len(d.log_lines("csv_invalid_encoding"))
    body = hex_csv(3, ROWS + 5000) + "99,bad \xff end\n"
    d.write("wan/big.csv", None, raw=body.encode("latin-1"))
    r = d.once(timeout=120)
    t.ok(r.returncode != 0, f"{rig.provider} refused change: once reports a failure", d.tail())
    bad = d.log_lines("csv_invalid_encoding")[seen:]
    t.ok(len(bad) == 1, f"{rig.provider} refused change: csv_invalid_encoding", d.tail())
    records = linksim.read_log(log)[before_log:]
    sent = upload_requests(records)
    t.ok(len(sent) >= 1, f"{rig.provider} refused change: parts had gone up during staging "
         f"({len(sent)})")
    after = rig.count("POST", "import-async") + rig.count("POST", "tables-async")
    t.ok(after == imports_before, f"{rig.provider} refused change: nothing imported")
    rows = rig.table_rows("in.c-wan.big")
    t.ok(rows is not None and rows[1][1] == good.split("\n")[1].split(",")[1],
         f"{rig.provider} refused change: the table keeps the last good version")
    if rig.provider == "aws":
        aborts = [r for r in records if r["method"] == "DELETE"
                  and "uploadId" in dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r["path"]).query))]
        completes = [r for r in records if r["method"] == "POST"
                     and "uploadId" in dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r["path"]).query))]
        t.ok(len(aborts) >= 1 and not completes,
             f"aws refused change: the multipart upload is aborted, never completed "
             f"({len(aborts)} DELETE, {len(completes)} complete)")


def main():
    t = Tap()
    for provider in ("aws", "azure", "gcp"):
        rig = Rig(provider, KBSYNCD_LINK_STORAGE="rate=2000000,latency_ms=20")
        log = rig.env["KBSYNCD_LINK_STORAGE_LOG"]
        d = Daemon(rig, settle_ms=100,
                   extra=f"gzip_threshold = 1048576, gzip_level = 9, stage_step_bytes = 262144, "
                         f"upload = {{ {UPLOAD[provider]}, parallel = 4 }},")
        body = check_new_file(t, d, rig, log)
        body = check_same_size(t, d, rig, log)
        check_refused(t, d, rig, log, body)
        rig.down()
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
