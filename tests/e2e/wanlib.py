"""Helpers of the link-simulator tests (test_wan*.py): CSV bodies of a size,
and the upload requests of the simulator's log (tests/rig/linksim.py)."""
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rig"))
import linksim  # noqa: E402,F401  (re-exported for the tests)


def csv_body(size):
    """A CSV of about size bytes: header id,text and rows of 32 bytes."""
    rows = max(1, size // 32)
    return "id,text\n" + "".join(f"{i:09d},row padding padding {i % 10}\n" for i in range(rows)), rows


def upload_requests(records):
    """The requests that carried file bytes: single PUT/POST media, S3 parts,
    Azure blocks, GCS chunks (not CreateMultipartUpload, Complete or a block list)."""
    out = []
    for r in records:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r["path"]).query))
        if r["method"] not in ("PUT", "POST") or r["length"] == 0:
            continue
        if "uploads" in query or query.get("comp") == "blocklist":
            continue
        if r["method"] == "POST" and "uploadId" in query:  # CompleteMultipartUpload
            continue
        if query.get("uploadType") == "resumable" and "upload_id" not in query:
            continue  # the session start: JSON, not file bytes
        out.append(r)
    return out
