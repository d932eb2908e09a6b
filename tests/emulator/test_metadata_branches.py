#!/usr/bin/env python3
"""Table metadata and development branches as the blueprint describes them
(README.md, "Real behaviour")."""
from rigclient import http
from rigclient import Rig
from tap import Tap, tests_in
from test_api import is_error, load_table
from uploads import upload


def test_table_metadata_set_list_and_upsert(tap, rig):
    bucket = rig.create_bucket("meta")
    load_table(rig, bucket, "t", b"id\n1\n")
    table_id = f"{bucket}.t"
    tap.eq(rig.api("GET", f"tables/{table_id}/metadata").json, [], "a new table has no metadata")
    posted = rig.api("POST", f"tables/{table_id}/metadata",
                     {"provider": "kbsyncd", "metadata": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]})
    tap.eq(posted.status, 201, "POST metadata (JSON) answers 201")
    tap.eq(sorted(posted.json), ["columnsMetadata", "metadata"], "a JSON request gets the object form")
    tap.eq([(m["key"], m["value"], m["provider"]) for m in posted.json["metadata"]],
           [("a", "1", "kbsyncd"), ("b", "2", "kbsyncd")], "the pairs with their provider")
    tap.ok(all({"id", "timestamp"} <= set(m) for m in posted.json["metadata"]), "each has an id and a timestamp")
    first_id = posted.json["metadata"][0]["id"]
    form = rig.api("POST", f"tables/{table_id}/metadata",
                   {"provider": "kbsyncd", "metadata[0][key]": "a", "metadata[0][value]": "3"}, encoding="form")
    tap.ok(form.status == 201 and isinstance(form.json, list), "a form request gets the deprecated array",
           form.text[:300])
    tap.eq([(m["key"], m["value"], m["id"] == first_id) for m in form.json if m["key"] == "a"],
           [("a", "3", True)], "the same (provider, key) is updated in place")
    rig.api("POST", f"tables/{table_id}/metadata", {"provider": "user", "metadata": [{"key": "a", "value": "u"}]})
    listed = rig.api("GET", f"tables/{table_id}/metadata").json
    tap.eq(sorted((m["provider"], m["key"], m["value"]) for m in listed),
           [("kbsyncd", "a", "3"), ("kbsyncd", "b", "2"), ("user", "a", "u")],
           "providers keep their own value of a key")
    tap.eq(len(rig.api("GET", f"tables/{table_id}").json["metadata"]), 3, "table detail includes metadata")
    gone = next(m["id"] for m in listed if m["provider"] == "user")
    tap.eq(rig.api("DELETE", f"tables/{table_id}/metadata/{gone}").status, 204, "DELETE one entry: 204")
    tap.eq(len(rig.api("GET", f"tables/{table_id}/metadata").json), 2, "it is gone")
    is_error(tap, rig.api("DELETE", f"tables/{table_id}/metadata/{gone}"), 404, "storage.metadata.notFound",
             "deleting it again")
    rig.api("POST", f"tables/{table_id}/metadata", {"provider": "user", "metadata": [{"key": "a", "value": "u"}]})
    listing = rig.api("GET", f"buckets/{bucket}/tables", query={"include": "columns"}).json[0]
    tap.ok("metadata" not in listing, "a list with include=columns leaves metadata out")
    listing = rig.api("GET", f"buckets/{bucket}/tables", query={"include": "columns,metadata"}).json[0]
    tap.eq(len(listing["metadata"]), 3, "include=metadata lists it")


def test_table_metadata_refusals(tap, rig):
    bucket = rig.create_bucket("metabad")
    load_table(rig, bucket, "t", b"id\n1\n")
    is_error(tap, rig.api("POST", f"tables/{bucket}.t/metadata", {"metadata": [{"key": "a", "value": "1"}]}),
             400, "storage.metadata.invalidProvider", "no provider")
    is_error(tap, rig.api("POST", f"tables/{bucket}.t/metadata", {"provider": "p", "metadata": []}),
             400, "storage.metadata.validation", "no metadata")
    is_error(tap, rig.api("POST", f"tables/{bucket}.t/metadata", {"provider": "p", "metadata": [{"value": "1"}]}),
             400, "storage.metadata.validation", "an entry without a key")
    is_error(tap, rig.api("POST", f"tables/{bucket}.nope/metadata",
                          {"provider": "p", "metadata": [{"key": "a", "value": "1"}]}),
             404, "storage.tables.notFound", "a missing table")


def create_branch(rig, name):
    reply = rig.api("POST", "dev-branches", {"name": name})
    return reply, (rig.wait_job(reply.json) if reply.status == 202 else None)


def test_dev_branches_list_and_create(tap, rig):
    listed = rig.api("GET", "dev-branches").json
    tap.eq([(b["name"], b["isDefault"]) for b in listed], [("Main", True)], "a project starts with its default branch")
    reply, job = create_branch(rig, "try-sales")
    tap.eq((reply.status, reply.json["operationName"], reply.json["status"]), (202, "devBranchCreate", "waiting"),
           "create answers 202 with a devBranchCreate job")
    tap.eq((job["status"], job["results"]["name"], job["results"]["isDefault"]), ("success", "try-sales", False),
           "the job's results are the branch")
    branch_id = job["results"]["id"]
    tap.ok(isinstance(branch_id, int), "a branch id is a number")
    tap.eq(rig.api("GET", f"dev-branches/{branch_id}").json["name"], "try-sales", "branch detail")
    tap.eq(sorted(b["name"] for b in rig.api("GET", "dev-branches").json), ["Main", "try-sales"], "listed")
    again, _ = create_branch(rig, "try-sales")
    is_error(tap, again, 400, "storage.devBranches.alreadyExists", "a branch name is taken once")
    is_error(tap, rig.api("GET", "branch/999999/buckets"), 404, "storage.devBranches.notFound", "an unknown branch")
    tap.eq(rig.api("GET", "branch/default/buckets").status, 200, "default is production's alias")


def test_branch_holds_its_own_buckets_tables_and_files(tap, rig):
    _, job = create_branch(rig, "dev")
    b = f"branch/{job['results']['id']}"
    made = rig.api("POST", f"{b}/buckets", {"name": "sales", "stage": "in"})
    tap.eq((made.status, made.json["id"]), (201, "in.c-sales"), "a bucket made in the branch keeps the usual id")
    tap.eq(rig.api("GET", "buckets").json, [], "production has no bucket")
    prepared = rig.api("POST", f"{b}/files/prepare", {"name": "t.csv", "federationToken": True}).json
    upload(rig, prepared, b"id,x\n1,a\n")
    tap.eq(rig.api("GET", f"files/{prepared['id']}").status, 404, "a branch's file is not production's")
    tap.eq(rig.api("GET", f"{b}/files/{prepared['id']}").status, 200, "the branch sees its file")
    created = rig.api("POST", f"{b}/buckets/in.c-sales/tables-async", {"name": "t", "dataFileId": prepared["id"]})
    tap.ok(created.status == 202 and "/branch/" not in created.json["url"],
           "the job is the project's (polled without the branch prefix)", created.text[:300])
    done = rig.wait_job(created.json)
    tap.eq((done["status"], done["results"]["id"]), ("success", "in.c-sales.t"), "the table is made in the branch")
    tap.eq(rig.api("GET", f"{b}/tables/in.c-sales.t").json["rowsCount"], 1, "the branch has it")
    tap.eq(rig.api("GET", "tables/in.c-sales.t").status, 404, "production has no such table")
    tap.eq(rig.api("GET", "tables").json, [], "production lists no table")
    rig.api("POST", f"{b}/tables/in.c-sales.t/metadata", {"provider": "p", "metadata": [{"key": "k", "value": "v"}]})
    tap.eq([m["key"] for m in rig.api("GET", f"{b}/tables/in.c-sales.t/metadata").json], ["k"],
           "metadata in the branch")
    dump = http("GET", f"{rig.url}/_emulator/tables/in.c-sales.t.csv?branch={job['results']['id']}")
    tap.eq(dump.text.splitlines(), ['"id","x"', '"1","a"'], "the emulator dumps a branch's table")
    tap.eq(rig.api("GET", f"{b}/tokens/verify").status, 200, "token verify works in a branch")
    tap.eq(rig.api("GET", f"{b}/jobs/{created.json['id']}").status, 404, "jobs take no branch prefix")
    rig.control("PUT", "faults", {"script": [{"class": "tables", "method": "GET", "kind": "503"}]})
    tap.eq(rig.api("GET", f"{b}/tables/in.c-sales.t").status, 503, "a branch's call is faulted as its resource class")
    rig.create_bucket("sales")
    load_table(rig, "in.c-sales", "t", b"id,x\n1,a\n2,b\n")
    tap.eq(rig.api("GET", f"{b}/tables/in.c-sales.t").json["rowsCount"], 1,
           "a production load leaves the branch's table alone")


if __name__ == "__main__":
    tap = Tap()
    with Rig("gcp", "--job-polls", "1") as rig:
        tap.run([(name, lambda t, f=fn: (rig.reset(), f(t, rig))) for name, fn in tests_in(globals())])
    tap.finish()
