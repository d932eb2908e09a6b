#!/usr/bin/env python3
"""Keboola as it behaves today: system column names, table and bucket display
names, and which 404 code import-async answers (README.md, "Real behaviour")."""
from rigclient import Rig
from tap import Tap, tests_in
from test_api import is_error, load_table
from uploads import upload


def create(rig, bucket_id, name, csv_bytes):
    """tables-async from fresh bytes: (HTTP reply of the POST, finished job or None)."""
    prepared = rig.prepare(f"{name}.csv")
    upload(rig, prepared, csv_bytes)
    reply = rig.api("POST", f"buckets/{bucket_id}/tables-async", {"name": name, "dataFileId": prepared["id"]})
    return reply, (rig.wait_job(reply.json) if reply.status == 202 else None)


def import_job(rig, table_id, csv_bytes):
    prepared = rig.prepare("data.csv")
    upload(rig, prepared, csv_bytes)
    reply = rig.api("POST", f"tables/{table_id}/import-async", {"dataFileId": prepared["id"]})
    return reply, (rig.wait_job(reply.json) if reply.status == 202 else None)


def test_system_column_names_get_an_underscore(tap, rig):
    bucket = rig.create_bucket("sys")
    job = load_table(rig, bucket, "t", b"id,OID,xmin,ctid,cmax,tableoid,cmin,xmax\n1,2,3,4,5,6,7,8\n")
    tap.eq(job["status"], "success", "create with system column names succeeds")
    columns = rig.api("GET", f"tables/{bucket}.t").json["columns"]
    tap.eq(columns, ["id", "OID_", "xmin_", "ctid_", "cmax_", "tableoid_", "cmin_", "xmax_"],
           "stored with \"_\" appended, case kept")
    _, done = import_job(rig, f"{bucket}.t", b"id,OID,xmin,ctid,cmax,tableoid,cmin,xmax\n9,8,7,6,5,4,3,2\n")
    tap.eq(done["status"], "success", "an import with the same raw header matches the stored names")
    tap.eq(rig.dump(f"{bucket}.t").splitlines()[0],
           '"id","OID_","xmin_","ctid_","cmax_","tableoid_","cmin_","xmax_"', "the data keeps them")


def test_table_display_name_blocks_create(tap, rig):
    bucket = rig.create_bucket("disp")
    load_table(rig, bucket, "orders", b"id\n1\n")
    table = rig.api("GET", f"tables/{bucket}.orders").json
    tap.eq(table["displayName"], "orders", "a new table's display name is its name")
    renamed = rig.api("PUT", f"tables/{bucket}.orders", {"displayName": "sales"})
    tap.eq((renamed.status, renamed.json["displayName"], renamed.json["id"]),
           (200, "sales", f"{bucket}.orders"), "PUT displayName renames, the id stays")
    tap.eq(rig.api("PUT", f"tables/{bucket}.orders", {"displayName": "sales"}).status, 200,
           "renaming to the name it already has succeeds")
    reply, _ = create(rig, bucket, "sales", b"id\n2\n")
    is_error(tap, reply, 400, "storage.buckets.tableAlreadyExists", "create with another table's display name")
    tap.eq(reply.json["error"],
           'The table "orders" in the bucket already has the same display name "sales".',
           "the message names the table that holds the name")
    tap.eq(rig.api("GET", f"tables/{bucket}.sales").status, 404, "no table sales was made")
    again, _ = create(rig, bucket, "orders", b"id\n3\n")
    is_error(tap, again, 400, "storage.buckets.tableAlreadyExists", "the id is still taken too")
    load_table(rig, bucket, "other", b"id\n4\n")
    is_error(tap, rig.api("PUT", f"tables/{bucket}.other", {"displayName": "sales"}), 400,
             "storage.buckets.tableAlreadyExists", "renaming onto a taken display name")
    is_error(tap, rig.api("PUT", f"tables/{bucket}.other", {"displayName": "_x"}), 400,
             "storage.tables.validation", "a display name starting with _")
    listed = {t["id"]: t["displayName"] for t in rig.api("GET", f"buckets/{bucket}/tables").json}
    tap.eq(listed, {f"{bucket}.orders": "sales", f"{bucket}.other": "other"}, "the list shows display names")
    elsewhere = rig.create_bucket("disp2")
    reply, job = create(rig, elsewhere, "sales", b"id\n5\n")
    tap.eq((reply.status, job and job["status"]), (202, "success"), "display names are per bucket")


def test_bucket_display_names_are_unique_in_the_project(tap, rig):
    out = rig.api("POST", "buckets", {"name": "reports", "stage": "out", "displayName": "sales"})
    tap.eq((out.status, out.json["id"]), (201, "out.c-reports"), "an out bucket shown as sales")
    clash = rig.api("POST", "buckets", {"name": "sales", "stage": "in"})
    is_error(tap, clash, 400, "storage.buckets.alreadyExists", "an in bucket named sales clashes across stages")
    tap.eq(clash.json["error"], 'The display name "sales" already exists in project.', "the real message")
    tap.eq(rig.api("GET", "buckets/in.c-sales").status, 404, "nothing was made")
    moved = rig.api("PUT", "buckets/out.c-reports", {"displayName": "reports"})
    tap.eq((moved.status, moved.json["displayName"]), (200, "reports"), "PUT displayName renames a bucket")
    tap.eq(rig.api("POST", "buckets", {"name": "sales", "stage": "in"}).status, 201,
           "with the name free, the create succeeds")
    is_error(tap, rig.api("PUT", "buckets/out.c-reports", {"displayName": "sales"}), 400,
             "storage.buckets.alreadyExists", "renaming onto a taken display name")


def test_import_async_404_codes(tap, rig):
    bucket = rig.create_bucket("gone")
    load_table(rig, bucket, "t", b"id\n1\n")
    prepared = rig.prepare("t.csv")
    upload(rig, prepared, b"id\n2\n")
    is_error(tap, rig.api("POST", f"tables/{bucket}.missing/import-async", {"dataFileId": prepared["id"]}),
             404, "storage.tables.notFound", "a missing table")
    is_error(tap, rig.api("POST", f"tables/{bucket}.t/import-async", {"dataFileId": 987654}),
             404, "storage.files.notFound", "a missing file")
    rig.control("PUT", "config", {"expireFilesOnImport": 1})
    is_error(tap, rig.api("POST", f"tables/{bucket}.t/import-async", {"dataFileId": prepared["id"]}),
             404, "storage.files.notFound", "expireFilesOnImport: the next import finds its file gone")
    tap.eq(rig.control("GET", "config").json["expireFilesOnImport"], 0, "the count is used up")
    _, job = import_job(rig, f"{bucket}.t", b"id\n3\n")
    tap.eq(job["status"], "success", "the import after it works")


if __name__ == "__main__":
    tap = Tap()
    with Rig("gcp", "--job-polls", "1") as rig:
        tap.run([(name, lambda t, f=fn: (rig.reset(), f(t, rig))) for name, fn in tests_in(globals())])
    tap.finish()
