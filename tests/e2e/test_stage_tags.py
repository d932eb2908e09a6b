#!/usr/bin/env python3
"""Where the daemon's uploads land and how they are labelled
(docs/configuration.md):

- `stage = "out"`: folders become buckets in stage out (`out.c-NAME`), files
  tables in them, and nothing is created in stage in;
- `keboola.tags`: every file the daemon uploads carries exactly the
  configured tags (read back from Storage: GET files/{id}); without the key,
  the default tag `kbsyncd`."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402

TAGS = ["nightly-mirror", "e2e"]


def uploaded_file_ids(d):
    """file_id of every table_loaded line."""
    out = []
    for line in d.log_lines("table_loaded"):
        m = re.search(r"\bfile_id=(\d+)", line)
        if m:
            out.append(int(m.group(1)))
    return out


def file_tags(rig, file_id):
    return rig.api(f"/v2/storage/files/{file_id}").get("tags")


def stage_out_and_tags(t, rig):
    tags = ", ".join(f'"{x}"' for x in TAGS)
    d = Daemon(rig, settle_ms=100, extra=f'stage = "out", keboola = {{ tags = {{ {tags} }} }},')
    d.write("sales/orders.csv", "id,name\n1,alpha\n")
    d.write("sales/items.csv", "sku\nA\n")
    os.makedirs(d.path("empty"))
    d.start()
    t.ok(wait_until(lambda: rig.table_rows("out.c-sales.orders") == [["id", "name"], ["1", "alpha"]], 30),
         "stage out: the file is loaded into out.c-sales.orders", d.tail())
    t.ok(wait_until(lambda: rig.table_rows("out.c-sales.items") == [["sku"], ["A"]], 30),
         "stage out: a second file of the folder too", d.tail())
    t.ok(wait_until(lambda: {"out.c-sales", "out.c-empty"} <= rig.buckets(), 30),
         "stage out: each folder, an empty one too, has its bucket in stage out", sorted(rig.buckets()))
    t.ok(wait_until(d.quiet, 30), "stage out: quiet after the first sync", d.status_json())
    buckets = rig.api("/v2/storage/buckets")
    t.ok(all(b.get("stage") == "out" for b in buckets) and not [b for b in buckets if b["id"].startswith("in.")],
         "stage out: no bucket was created in stage in", [(b["id"], b.get("stage")) for b in buckets])

    d.write("sales/orders.csv", "id,name\n1,alpha\n2,beta\n", atomic=True)
    t.ok(wait_until(lambda: rig.table_rows("out.c-sales.orders") == [["id", "name"], ["1", "alpha"], ["2", "beta"]], 30),
         "stage out: an edit is loaded into the same table", d.tail())
    t.ok(wait_until(lambda: len(uploaded_file_ids(d)) >= 3, 30), "three loads logged with their file_id", d.tail())
    ids = uploaded_file_ids(d)
    tags_seen = {i: file_tags(rig, i) for i in ids}
    t.ok(ids and all(sorted(v or []) == sorted(TAGS) for v in tags_seen.values()),
         "keboola.tags: every uploaded file carries exactly the configured tags", tags_seen)
    rc, _ = d.stop()
    t.ok(rc == 0, "TERM exits 0", d.tail())


def default_tag(t, rig):
    d = Daemon(rig, settle_ms=100)
    d.write("plain/a.csv", "id\n1\n")
    d.start()
    t.ok(wait_until(lambda: rig.table_rows("in.c-plain.a") == [["id"], ["1"]], 30),
         "default stage: the file is loaded into in.c-plain.a", d.tail())
    t.ok(wait_until(lambda: uploaded_file_ids(d), 30), "its load is logged with a file_id", d.tail())
    ids = uploaded_file_ids(d)
    tags = file_tags(rig, ids[0]) if ids else None
    t.ok(tags == ["kbsyncd"], "without keboola.tags the upload carries the default tag kbsyncd", tags)
    rc, _ = d.stop()
    t.ok(rc == 0, "TERM exits 0", d.tail())


def main():
    t = Tap()
    rig = Rig("gcp")
    for part in (stage_out_and_tags, default_tag):
        try:
            part(t, rig)
        except Exception as exc:  # a crash of one part is a failure, the other still runs
            t.ok(False, f"{part.__name__}: ran to its end", repr(exc))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
