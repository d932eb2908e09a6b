#!/usr/bin/env python3
"""Keboola as it behaves today, end to end (`kbsyncd once` against the rig):

- aws through the production S3 address: the rig serves TLS under
  kbc-sapi-files.s3.us-east-1.amazonaws.com (tests/rig/tls.py); kbsyncd has no
  endpoint override, trusts the rig's CA through http.ca_bundle and reaches
  the name through KBSYNCD_TEST_CONNECT_TO; single and multipart uploads;
- system column names (oid ...) are stored with "_" and later loads match;
- a table renamed in the UI holds the name: create is refused, the table
  shown under the name is adopted (its id kept in the state), not recreated;
- a bucket of another stage holds the folder's display name: it is found;
- import-async answering 404 storage.files.notFound does not recreate the
  table (only storage.tables.notFound means "the table is gone").
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, http  # noqa: E402

S3_HOST = "kbc-sapi-files.s3.us-east-1.amazonaws.com"


def api(rig, method, path, body):
    return http(method, f"{rig.url}/v2/storage/{path}", json.dumps(body).encode(),
                {"X-StorageApi-Token": rig.token, "Content-Type": "application/json"})


def state_table_id(d, rel):
    files = (d.state_json() or {}).get("files") or {}
    entry = files.get(rel) or {}
    return entry.get("table_id")


def production_s3(t):
    rig = Rig("aws", KBSYNCD_PRODUCTION_HOSTS="1")
    t.ok("KBSYNCD_S3_ENDPOINT" not in rig.env and S3_HOST in rig.env.get("KBSYNCD_TEST_CONNECT_TO", ""),
         "the production-hosts rig exports no S3 endpoint override, only the connect-to mapping",
         rig.env)
    ca = rig.env["KBSYNCD_CA_BUNDLE"]
    d = Daemon(rig, extra=f"http = {{ ca_bundle = {json.dumps(ca)} }}, "
                          "upload = { s3_single_max = 1, s3_part_size = 5242880 },")
    d.write("prod/small.csv", "id,name\n1,a\n2,b\n")
    rows = 140_000  # about 6 MiB: two parts of the 5 MiB minimum
    d.write("prod/big.csv", "id,text\n" + "".join(f"{i},row {i:08d} padding padding\n" for i in range(rows)))
    r = d.once(timeout=180)
    t.ok(r.returncode == 0, "once loads both files through the production S3 name", d.tail() + r.stderr[-2000:])
    small = rig.table_rows("in.c-prod.small")
    t.ok(small == [["id", "name"], ["1", "a"], ["2", "b"]], "the small file's rows are in the table", small)
    big = rig.table_rows("in.c-prod.big")
    t.ok(big is not None and len(big) == rows + 1 and big[-1][0] == str(rows - 1),
         "the multipart file's rows are all there", big and big[:2])
    hosts = [line for line in d.log_lines("http_request") if f"host={S3_HOST}" in line]
    t.ok(hosts and all("status=200" in line for line in hosts),
         f"S3 requests went to https://{S3_HOST} ({len(hosts)} requests, all 200)", d.tail())
    t.ok(any("path=/exp-15/" in line for line in hosts),
         "virtual-hosted addressing: the path starts with the key, not the bucket", hosts[:3])
    t.ok(d.log_lines("test_connect_to_active", "WARN"), "the test-only redirection is logged as a WARN")
    rig.down()


def today(t):
    rig = Rig("gcp")
    d = Daemon(rig)

    # System column names.
    d.write("sys/cols.csv", "id,oid,XMIN\n1,2,3\n")
    r = d.once()
    t.ok(r.returncode == 0, "a file with system column names loads", d.tail() + r.stderr[-1500:])
    tables = rig.tables()
    t.ok(tables.get("in.c-sys.cols", {}).get("columns") == ["id", "oid_", "XMIN_"],
         "they are stored with \"_\" appended", tables.get("in.c-sys.cols"))
    d.write("sys/cols.csv", "id,oid,XMIN\n4,5,6\n")
    r = d.once()
    t.ok(r.returncode == 0 and rig.table_rows("in.c-sys.cols") == [["id", "oid_", "XMIN_"], ["4", "5", "6"]],
         "a changed file loads again: its header matches the stored names", d.tail())

    # A table renamed in the UI holds the file's name.
    d.write("shop/legacy.csv", "id\n1\n")
    r = d.once()
    t.ok(r.returncode == 0, "a first table is made", d.tail())
    os.unlink(d.path("shop/legacy.csv"))  # its table lives on, renamed below
    status, body = api(rig, "PUT", "tables/in.c-shop.legacy", {"displayName": "orders"})
    t.ok(status == 200, "renamed in the UI: legacy is shown as orders", body)
    d.write("shop/orders.csv", "id\n7\n8\n")
    seq = rig.last_seq()
    r = d.once()
    t.ok(r.returncode == 0, "once succeeds for orders.csv", d.tail() + r.stderr[-1500:])
    t.ok(d.log_lines("table_adopted_by_display_name", "WARN"), "the adoption is logged as a WARN", d.tail())
    t.ok(rig.table_rows("in.c-shop.legacy") == [["id"], ["7"], ["8"]],
         "the file is loaded into the table shown as orders", rig.table_rows("in.c-shop.legacy"))
    t.ok(rig.table_rows("in.c-shop.orders") is None, "no table in.c-shop.orders is made")
    t.ok(state_table_id(d, "shop/orders.csv") == "in.c-shop.legacy",
         "the state keeps the adopted table's real id", (d.state_json() or {}).get("files"))
    t.ok(rig.count("POST", r"/tables-async$", seq) == 1, "one create was tried, no loop")
    seq = rig.last_seq()
    r = d.once()
    t.ok(r.returncode == 0 and rig.count("POST", r"/files/prepare$", seq) == 0,
         "the next once with the file unchanged uploads nothing (the adopted id is kept)", d.tail())
    d.write("shop/orders.csv", "id\n9\n")
    seq = rig.last_seq()
    r = d.once()
    t.ok(r.returncode == 0 and rig.count("POST", r"/tables-async$", seq) == 0
         and rig.count("POST", r"/import-async$", seq) == 1
         and rig.table_rows("in.c-shop.legacy") == [["id"], ["9"]],
         "a change is imported into the adopted table, with no create", d.tail())

    # A bucket of another stage holds the folder's display name.
    status, body = api(rig, "POST", "buckets", {"name": "reports", "stage": "out", "displayName": "crm"})
    t.ok(status == 201, "an out bucket shown as crm", body)
    d.write("crm/leads.csv", "id\n1\n")
    r = d.once()
    t.ok(r.returncode == 0, "once succeeds for crm/leads.csv", d.tail() + r.stderr[-1500:])
    t.ok(rig.table_rows("out.c-reports.leads") == [["id"], ["1"]] and "in.c-crm" not in rig.buckets(),
         "the bucket holding the display name is found and used", sorted(rig.buckets()))

    # import-async: 404 storage.files.notFound is not "the table is gone".
    rig.config(expireFilesOnImport=1)
    d.write("sys/cols.csv", "id,oid,XMIN\n7,8,9\n")
    seq = rig.last_seq()
    r = d.once()
    t.ok(r.returncode != 0 and "storage.files.notFound" in d.tail(80),
         "the load fails naming storage.files.notFound", d.tail())
    t.ok(rig.count("POST", r"/import-async$", seq) == 1 and rig.count("POST", r"/tables-async$", seq) == 0
         and not d.log_lines("table_missing_remotely"), "the table is not recreated", d.tail())
    t.ok(rig.table_rows("in.c-sys.cols") == [["id", "oid_", "XMIN_"], ["4", "5", "6"]], "the table keeps its rows")
    d.write("sys/cols.csv", "id,oid,XMIN\n10,11,12\n")
    r = d.once()
    t.ok(r.returncode == 0 and rig.table_rows("in.c-sys.cols") == [["id", "oid_", "XMIN_"], ["10", "11", "12"]],
         "the next change loads normally", d.tail())
    rig.down()


def main():
    t = Tap()
    today(t)
    production_s3(t)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
