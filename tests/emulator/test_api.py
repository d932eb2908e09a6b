#!/usr/bin/env python3
"""Endpoint shapes, error codes, body parsing, permissions and emulator-only endpoints."""
from rigclient import Rig, http
from tap import Tap, tests_in
from uploads import upload

ERROR_KEYS = {"error", "code", "exceptionId", "status"}


def is_error(tap, reply, status, code, what):
    body = reply.json if reply.raw.startswith(b"{") else {}
    tap.ok(reply.status == status and body.get("code") == code and ERROR_KEYS <= set(body)
           and body.get("status") == "error", f"{what}: {status} {code}",
           f"got {reply.status} {reply.text[:300]}")


def load_table(rig, bucket_id, name, csv_bytes):
    prepared = rig.prepare(f"{name}.csv")
    upload(rig, prepared, csv_bytes)
    job = rig.api("POST", f"buckets/{bucket_id}/tables-async", {"name": name, "dataFileId": prepared["id"]})
    return rig.wait_job(job.json)


def test_index_needs_no_token_and_lists_features(tap, rig):
    reply = rig.api("GET", "", token="", query={"exclude": "components"})
    tap.eq(reply.status, 200, "index answers without a token")
    tap.ok({"api", "version", "stack", "services", "features"} <= set(reply.json), "index fields")
    tap.ok("components" not in reply.json, "exclude=components drops components")


def test_auth_errors(tap, rig):
    is_error(tap, rig.api("GET", "tokens/verify", token="123-999-wrongtoken"), 401,
             "storage.tokenInvalid", "unknown token")
    is_error(tap, rig.api("GET", "buckets", token=""), 401, "storage.tokenInvalid", "missing token")
    tap.eq(rig.api("GET", "buckets", token="123-999-wrongtoken").json["error"], "Invalid access token",
           "the invalid-token message")


def test_revoked_token(tap, rig):
    reply = rig.control("PUT", "config", {"revokedTokens": [rig.token]})
    tap.eq(reply.json.get("revokedTokens"), [rig.token], "config lists the revoked token")
    is_error(tap, rig.api("GET", "tokens/verify"), 401, "storage.tokenInvalid", "a revoked token is refused")
    rig.control("PUT", "config", {"revokedTokens": []})
    tap.eq(rig.api("GET", "tokens/verify").status, 200, "restored, it works again")
    rig.control("PUT", "config", {"revokedTokens": [rig.token]})
    rig.reset()
    tap.eq(rig.api("GET", "tokens/verify").status, 200, "reset restores revoked tokens")


def test_verify_fields_for_each_token(tap, rig):
    master = rig.api("GET", "tokens/verify").json
    tap.ok(isinstance(master["id"], str) and isinstance(master["owner"]["id"], int),
           "token id is a string, owner.id an integer")
    tap.eq((master["isMasterToken"], master["canManageBuckets"], master["owner"]["fileStorageProvider"]),
           (True, True, "gcp"), "master token flags and provider")
    no_manage = rig.api("GET", "tokens/verify", token=rig.env["KBSYNCD_TOKEN_NO_MANAGE"]).json
    tap.eq(no_manage["canManageBuckets"], False, "no-manage token cannot manage buckets")
    limited = rig.api("GET", "tokens/verify", token=rig.env["KBSYNCD_TOKEN_LIMITED"]).json
    tap.eq(limited["bucketPermissions"].get("in.c-limited"), "write", "limited token: one bucket")


def test_buckets(tap, rig):
    created = rig.api("POST", "buckets", {"name": "my-new-bucket", "stage": "in", "description": None})
    tap.eq((created.status, created.json["id"], created.json["name"], created.json["displayName"]),
           (201, "in.c-my-new-bucket", "c-my-new-bucket", "my-new-bucket"), "create: 201 with c- prefix")
    is_error(tap, rig.api("POST", "buckets", {"name": "my-new-bucket", "stage": "in"}), 400,
             "storage.buckets.alreadyExists", "duplicate bucket")
    is_error(tap, rig.api("POST", "buckets", {"name": "bad name!"}), 400,
             "storage.buckets.validation", "bad bucket name")
    is_error(tap, rig.api("POST", "buckets", {"name": "x", "backend": "oracle"}), 400,
             "storage.buckets.validation", "unknown backend")
    is_error(tap, rig.api("POST", "buckets", {"name": "y", "displayName": "no spaces"}), 400,
             "storage.buckets.validation", "bad displayName")
    is_error(tap, rig.api("GET", "buckets/in.c-missing"), 404, "storage.buckets.notFound", "unknown bucket")
    listed = rig.api("GET", "buckets")
    tap.eq([b["id"] for b in listed.json], ["in.c-my-new-bucket"], "list shows the bucket")
    tap.eq(rig.api("GET", "buckets/in.c-my-new-bucket").json["stage"], "in", "detail")
    is_error(tap, rig.api("POST", "buckets", {"name": "z"}, token=rig.env["KBSYNCD_TOKEN_NO_MANAGE"]),
             403, "accessDenied", "create without canManageBuckets")
    form = rig.api("POST", "buckets", {"name": "formbucket", "stage": "out"}, encoding="form")
    tap.eq((form.status, form.json["id"]), (201, "out.c-formbucket"), "form-encoded create")


def test_bucket_without_legacy_prefix(tap, rig):
    rig.control("PUT", "config", {"features": ["disable-legacy-bucket-prefix"]})
    tap.ok("disable-legacy-bucket-prefix" in rig.api("GET", "").json["features"],
           "the feature shows in the API index")
    created = rig.api("POST", "buckets", {"name": "plain"})
    tap.eq(created.json["id"], "in.plain", "no c- prefix when the feature is on")
    rig.control("PUT", "config", {"features": []})


def test_bucket_delete(tap, rig):
    rig.create_bucket("todelete")
    load_table(rig, "in.c-todelete", "t", b"a\n1\n")
    job = rig.api("DELETE", "buckets/in.c-todelete", query={"async": "true"})
    tap.eq(job.status, 202, "async delete answers 202 with a job")
    failed = rig.wait_job(job.json)
    tap.eq(failed["error"]["code"], "buckets.deleteNotEmpty", "non-empty bucket without force fails")
    job = rig.api("DELETE", "buckets/in.c-todelete", query={"async": "1", "force": "1"})
    tap.eq(rig.wait_job(job.json)["status"], "success", "force delete succeeds")
    tap.eq(rig.api("GET", "buckets/in.c-todelete").status, 404, "bucket is gone")
    rig.create_bucket("syncdelete")
    tap.eq(rig.api("DELETE", "buckets/in.c-syncdelete").status, 204, "sync delete answers 204")


def test_tables(tap, rig):
    rig.create_bucket("t")
    job = load_table(rig, "in.c-t", "orders", b"id,name\n1,a\n")
    tap.eq(job["results"]["id"], "in.c-t.orders", "create job results hold the table")
    plain = rig.api("GET", "buckets/in.c-t/tables").json
    tap.ok("columns" not in plain[0], "bucket table list has no columns by default")
    with_columns = rig.api("GET", "buckets/in.c-t/tables", query={"include": "columns"}).json
    tap.eq(with_columns[0]["columns"], ["id", "name"], "include=columns adds columns")
    everything = rig.api("GET", "tables", query={"include": "columns,buckets"}).json
    tap.eq((everything[0]["id"], everything[0]["bucket"]["id"]), ("in.c-t.orders", "in.c-t"),
           "project-wide list with buckets")
    detail = rig.api("GET", "tables/in.c-t.orders").json
    tap.ok(detail["rowsCount"] == 1 and detail["lastImportDate"] and detail["columns"] == ["id", "name"],
           "detail has rowsCount, lastImportDate and columns")
    is_error(tap, rig.api("GET", "tables/in.c-t.missing"), 404, "storage.tables.notFound", "unknown table")
    prepared = rig.prepare("x.csv")
    upload(rig, prepared, b"id\n1\n")
    is_error(tap, rig.api("POST", "buckets/in.c-t/tables-async", {"name": "orders", "dataFileId": prepared["id"]}),
             400, "storage.buckets.tableAlreadyExists", "duplicate table")
    for bad in ("a.b", "x" * 97, "bad name", "_hidden"):
        is_error(tap, rig.api("POST", "buckets/in.c-t/tables-async", {"name": bad, "dataFileId": prepared["id"]}),
                 400, "storage.tables.validation", f"table name {bad[:12]!r}")
    is_error(tap, rig.api("POST", "buckets/in.c-t/tables-async",
                          {"name": "ok", "dataFileId": prepared["id"], "delimiter": "/t"}),
             400, "invalidCsv", "bad delimiter")
    is_error(tap, rig.api("POST", "buckets/in.c-t/tables-async", {"name": "ok", "dataFileId": 999999}),
             404, "storage.files.notFound", "unknown dataFileId")
    never = rig.prepare("never.csv")
    job = rig.api("POST", "buckets/in.c-t/tables-async", {"name": "never", "dataFileId": never["id"]})
    tap.eq(rig.wait_job(job.json)["error"]["code"], "storage.fileNotUploaded", "file never uploaded")


def test_preview_formats(tap, rig):
    rig.create_bucket("p")
    load_table(rig, "in.c-p", "t", b"a,b\n1,x\n2,y\n")
    csv_reply = rig.api("GET", "tables/in.c-p.t/data-preview", query={"limit": 1})
    tap.eq(csv_reply.text, '"a","b"\n"1","x"\n', "CSV preview honours limit")
    tap.ok(csv_reply.headers["Content-Type"].startswith("text/csv"), "CSV content type")
    as_json = rig.api("GET", "tables/in.c-p.t/data-preview", query={"format": "json"}).json
    tap.eq(as_json["rows"][1][1], {"columnName": "b", "value": "y", "isTruncated": False}, "JSON preview cells")
    tap.eq(rig.dump("in.c-p.t"), '"a","b"\n"1","x"\n"2","y"\n', "emulator dump of the whole table")


def test_body_encodings(tap, rig):
    rig.create_bucket("enc")
    prepared = rig.prepare("e.csv")
    upload(rig, prepared, b"a\n1\n")
    multipart = rig.api("POST", "buckets/in.c-enc/tables-async",
                        {"name": "m", "dataFileId": str(prepared["id"])}, encoding="multipart")
    tap.eq(multipart.status, 202, "multipart body, dataFileId as a string")
    rig.wait_job(multipart.json)
    job = rig.api("POST", "tables/in.c-enc.m/import-async",
                  {"dataFileId": prepared["id"], "incremental": "0", "delimiter": None,
                   "enclosure": None, "escapedBy": None})
    tap.eq(rig.wait_job(job.json)["status"], "success", "JSON nulls for optional fields")
    query = rig.api("POST", "files/prepare", query={"name": "q.csv", "tags[]": "a", "federationToken": "1"})
    tap.eq((query.status, query.json["name"]), (201, "q.csv"), "prepare from query-string parameters")
    tags = rig.api("POST", "files/prepare", {"name": "t.csv", "tags": ["x", "x", "y"]}, encoding="form")
    tap.eq(tags.json["tags"], ["x", "y"], "form tags[] de-duplicated")
    is_error(tap, rig.api("POST", "files/prepare", {"name": "b.csv", "isPermanent": "maybe"}), 400,
             "validation.failed", "an invalid boolean")


def test_files(tap, rig):
    prepared = rig.prepare("Some File.CSV.gz", isPermanent="true", sizeBytes="12")
    tap.eq((prepared["name"], prepared["maxAgeDays"], prepared["sizeBytes"]),
           ("some_file.csv.gz", None, 12), "name normalised, .gz kept, permanent, size from string")
    detail = rig.api("GET", f"files/{prepared['id']}")
    tap.ok(detail.status == 200 and "gcsUploadParams" not in detail.json, "detail without upload params")
    tap.ok("gcsCredentials" in rig.api("GET", f"files/{prepared['id']}", query={"federationToken": 1}).json,
           "federationToken=1 adds read credentials")
    is_error(tap, rig.api("GET", "files/424242"), 404, "storage.files.notFound", "unknown file")
    is_error(tap, rig.api("GET", f"files/{prepared['id']}", token=rig.env["KBSYNCD_TOKEN_NO_MANAGE"]),
             403, "accessDenied", "another token's file without canReadAllFileUploads")
    refreshed = rig.api("PUT", f"files/{prepared['id']}/refresh")
    tap.ok(refreshed.status == 200 and refreshed.json["gcsUploadParams"]["access_token"]
           != prepared["gcsUploadParams"]["access_token"], "refresh issues a new GCS token")


def test_permissions_of_limited_tokens(tap, rig):
    rig.create_bucket("limited")
    rig.create_bucket("other")
    limited = rig.env["KBSYNCD_TOKEN_LIMITED"]
    tap.eq([b["id"] for b in rig.api("GET", "buckets", token=limited).json], ["in.c-limited"],
           "limited token lists only its bucket")
    is_error(tap, rig.api("GET", "buckets/in.c-other", token=limited), 403, "accessDenied",
             "limited token: other bucket")
    prepared = rig.api("POST", "files/prepare", {"name": "l.csv"}, token=limited).json
    upload(rig, prepared, b"a\n1\n")
    ok = rig.api("POST", "buckets/in.c-limited/tables-async", {"name": "t", "dataFileId": prepared["id"]},
                 token=limited)
    tap.eq(ok.status, 202, "limited token may create tables in its bucket")
    is_error(tap, rig.api("POST", "buckets/in.c-other/tables-async", {"name": "t", "dataFileId": prepared["id"]},
                          token=limited), 403, "accessDenied", "but not elsewhere")


def test_webalize(tap, rig):
    reply = rig.api("POST", "webalize/column-names", {"columnNames": ["currency €", "a,b", "_x_"]})
    tap.eq(reply.json, {"columnNames": ["currency_EUR", "a_b", "x"]}, "plural payload")
    single = rig.api("POST", "webalize/column-names", {"columnName": "žluťoučký kůň"}, encoding="form")
    tap.eq(single.json, {"columnName": "zlutoucky_kun"}, "singular (older) payload")
    # Since July 2024 the endpoint no longer validates (PHP IndexTest).
    empty = rig.api("POST", "webalize/column-names",
                    {"columnNames": ["----$$$$-----", "\u65e5\u672c\u8a9e", "oid", "XMIN"]})
    tap.eq((empty.status, empty.json), (200, {"columnNames": ["", "", "oid", "XMIN"]}),
           "200: nothing to transliterate gives \"\", system names come back unchanged")


def test_jobs_move_through_states(tap, rig):
    rig.create_bucket("j")
    prepared = rig.prepare("j.csv")
    upload(rig, prepared, b"a\n1\n")
    job = rig.api("POST", "buckets/in.c-j/tables-async", {"name": "t", "dataFileId": prepared["id"]}).json
    seen = [rig.api("GET", f"jobs/{job['id']}").json["status"] for _ in range(3)]
    tap.eq(seen, ["waiting", "processing", "success"], "waiting -> processing -> success (2 polls)")
    final = rig.api("GET", f"jobs/{job['id']}").json
    tap.ok(final["startTime"] and final["endTime"] and final["url"].endswith(f"/jobs/{job['id']}"),
           "finished job has start/end times and its URL")
    is_error(tap, rig.api("GET", "jobs/999999"), 404, "storage.jobs.notFound", "unknown job")


def test_routing_errors_and_request_log(tap, rig):
    is_error(tap, rig.api("GET", "nothing-here"), 404, "notFound", "unknown route")
    is_error(tap, rig.api("PATCH", "buckets"), 405, "methodNotAllowed", "wrong method")
    rig.control("DELETE", "requests")
    rig.api("GET", "buckets")
    rig.api("GET", "buckets")
    log = rig.control("GET", "requests").json
    tap.eq([(e["method"], e["path"], e["status"]) for e in log["requests"]],
           [("GET", "/v2/storage/buckets", 200)] * 2, "request log counts API calls, not its own")
    tap.eq(rig.reset().status, 204, "reset")
    tap.eq(rig.api("GET", "buckets").json, [], "reset empties the project")
    tap.eq(http("GET", f"{rig.url}/_emulator/health").json["provider"], "gcp", "health")


if __name__ == "__main__":
    tap = Tap()
    with Rig("gcp", "--job-polls", "2") as rig:
        tap.run([(name, lambda t, f=fn: (rig.reset(), f(t, rig))) for name, fn in tests_in(globals())])
    tap.finish()
