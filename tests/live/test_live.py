#!/usr/bin/env python3
"""End-to-end against a real Keboola project (`make test-live`).

Runs when KBC_STORAGE_API_HOST and KBC_STORAGE_API_TOKEN point at a
project; otherwise it is skipped (TAP "1..0 # SKIP").  Everything
happens in a uniquely named bucket that is deleted afterwards, and the
remote contents are checked through the real `data-preview` endpoint.
The same script runs against the local emulator (KBSYNCD_LIVE_EMULATOR=1
with a rig's exports; tests/live/on_rig.sh), which is how it is itself
tested.  With KBSYNCD_LIVE_EMULATOR=1 it never skips and never talks to
anything but that emulator: missing exports, or a host other than the
rig's KBSYNCD_EMULATOR_URL, fail the run.

Scenarios: a folder becomes a bucket and a CSV a table with exactly its
content; an edit is a full load; a header change is refused with an ERROR
and the remote keeps the last valid version; an unchanged file is not
uploaded again."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("KBSYNCD_BIN", os.path.join(ROOT, "build", "kbsyncd"))
HOST = os.environ.get("KBC_STORAGE_API_HOST", "")
TOKEN = os.environ.get("KBC_STORAGE_API_TOKEN", "")

ON_EMULATOR = os.environ.get("KBSYNCD_LIVE_EMULATOR") == "1"

if ON_EMULATOR and (not HOST or not TOKEN or HOST != os.environ.get("KBSYNCD_EMULATOR_URL")):
    print("not ok 1 - KBSYNCD_LIVE_EMULATOR=1: KBC_STORAGE_API_HOST and KBC_STORAGE_API_TOKEN "
          "are the rig's (KBSYNCD_EMULATOR_URL)")
    print(f"# KBC_STORAGE_API_HOST={HOST!r} KBSYNCD_EMULATOR_URL="
          f"{os.environ.get('KBSYNCD_EMULATOR_URL')!r} token set: {bool(TOKEN)}")
    print("1..1")
    sys.exit(1)
if not HOST or not TOKEN:
    print("1..0 # SKIP set KBC_STORAGE_API_HOST and KBC_STORAGE_API_TOKEN to run it against a project")
    sys.exit(0)

BASE = HOST if "://" in HOST else "https://" + HOST
n = 0
failed = 0


def ok(cond, desc, diag=""):
    global n, failed
    n += 1
    failed += 0 if cond else 1
    print(("ok" if cond else "not ok"), n, "-", desc, flush=True)
    if not cond and diag:
        for line in str(diag).replace(TOKEN, "***").splitlines()[-15:]:
            print("#", line)


def api(method, path, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(BASE + path, data=body, method=method,
                                 headers={"X-StorageApi-Token": TOKEN})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            return r.status, raw
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def preview(table_id):
    status, raw = api("GET", f"/v2/storage/tables/{urllib.parse.quote(table_id)}/data-preview?limit=1000")
    if status != 200:
        return None
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    return [rows[0]] + sorted(rows[1:]) if rows else rows


def find_bucket(folder):
    status, raw = api("GET", "/v2/storage/buckets")
    for b in json.loads(raw) if status == 200 else []:
        if b.get("stage") == "in" and b.get("name") in ("c-" + folder, folder):
            return b["id"]
    return None


folder = "kbsyncd-live-" + uuid.uuid4().hex[:8]
work = tempfile.mkdtemp(prefix="kbsyncd-live-")
watch = os.path.join(work, "data")
os.makedirs(os.path.join(watch, folder))
config = os.path.join(work, "config.lua")
with open(config, "w") as f:
    f.write(f"""return {{ watch_dir = {json.dumps(watch)}, state_dir = {json.dumps(os.path.join(work, "state"))},
  settle_ms = 200, log = {{ file = {json.dumps(os.path.join(work, "kbsyncd.log"))}, level = "info" }} }}
""")
csv_path = os.path.join(watch, folder, "orders.csv")
bucket_id = None


def once():
    r = subprocess.run([BIN, "once", "-c", config], capture_output=True, text=True, timeout=900)
    return r.returncode, r.stdout + r.stderr


def log_text():
    with open(os.path.join(work, "kbsyncd.log"), encoding="utf-8", errors="replace") as f:
        return f.read()


try:
    print(f"# project {BASE}, bucket folder {folder}")
    with open(csv_path, "w") as f:
        f.write("id,name,amount\n1,Alice,10.5\n2,\"Bob, Jr.\",3\n")
    rc, out = once()
    ok(rc == 0, "once: a new folder and CSV sync", out)
    bucket_id = find_bucket(folder)
    ok(bucket_id is not None, f"the folder became a bucket in stage in ({bucket_id})")
    table_id = f"{bucket_id}.orders"
    want = [["id", "name", "amount"], ["1", "Alice", "10.5"], ["2", "Bob, Jr.", "3"]]
    ok(preview(table_id) == want, "the table holds exactly the file's content", preview(table_id))

    with open(csv_path, "w") as f:
        f.write("id,name,amount\n1,Alice,11\n3,Carol,7\n")
    rc, out = once()
    ok(rc == 0, "once: an edit syncs", out)
    ok(preview(table_id) == [["id", "name", "amount"], ["1", "Alice", "11"], ["3", "Carol", "7"]],
       "the edit is a full load: the table holds the new version only", preview(table_id))

    uploads = log_text().count("file_uploaded")
    rc, out = once()
    ok(rc == 0 and log_text().count("file_uploaded") == uploads, "an unchanged file is not uploaded again")

    with open(csv_path, "w") as f:
        f.write("id,fullname\n9,Zed\n")
    rc, out = once()
    ok(rc == 1, "once exits 1 on a header change", out)
    ok("header_mismatch" in log_text(), "the log has a header_mismatch ERROR")
    ok(preview(table_id) == [["id", "name", "amount"], ["1", "Alice", "11"], ["3", "Carol", "7"]],
       "the remote keeps the last valid version", preview(table_id))
    ok(TOKEN not in log_text() and TOKEN not in out, "the token appears nowhere in the output or log")
finally:
    if bucket_id:
        status, raw = api("DELETE", f"/v2/storage/buckets/{urllib.parse.quote(bucket_id)}?force=true&async=true")
        deadline = time.monotonic() + 120
        while status in (200, 202) and time.monotonic() < deadline and find_bucket(folder):
            time.sleep(1)
        ok(find_bucket(folder) is None, "the test bucket was removed")
    shutil.rmtree(work, ignore_errors=True)

print(f"1..{n}")
sys.exit(1 if failed or not n else 0)
