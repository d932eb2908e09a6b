#!/usr/bin/env python3
"""Provenance and development branches, end to end (`kbsyncd once` against
the gcp rig):

- after a load the table's metadata (provider kbsyncd) holds the source path,
  size, fingerprint, rows, host and version, and KBC.description names the file;
- a description set by provider user is kept through later loads;
- a metadata write that fails leaves the load ok and logs table_metadata_failed;
- keboola.branch: `check` names the branch; a load goes into the branch only
  (production has no bucket, no table); a branch that does not exist is a
  config error naming the branches there are.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import BIN, Daemon, Rig, Tap, http, parse_csv  # noqa: E402


def api(rig, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    status, raw = http(method, f"{rig.url}/v2/storage/{path}", data,
                       {"X-StorageApi-Token": rig.token, "Content-Type": "application/json"})
    return status, (json.loads(raw) if raw else None)


def metadata(rig, table_id):
    status, body = api(rig, "GET", f"tables/{table_id}/metadata")
    if status != 200:
        raise RuntimeError(f"metadata of {table_id}: {status} {body}")
    return body


def of(entries, provider):
    return {m["key"]: m["value"] for m in entries if m["provider"] == provider}


def host_name():
    name = os.environ.get("HOSTNAME")
    if name:
        return name
    with open("/proc/sys/kernel/hostname") as f:
        return f.read().strip()


def daemon_version():
    out = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=10)
    words = out.stdout.split()  # "kbsyncd 0.1.0 (host API ...)"
    return words[1] if out.returncode == 0 and len(words) > 1 else None


def provenance(t, rig):
    d = Daemon(rig)
    text = "id,name\n1,a\n2,b\n3,c\n"
    d.write("sales/orders.csv", text)
    r = d.once()
    t.ok(r.returncode == 0, "once loads sales/orders.csv", d.tail())
    mine = of(metadata(rig, "in.c-sales.orders"), "kbsyncd")
    entry = ((d.state_json() or {}).get("files") or {}).get("sales/orders.csv") or {}
    t.ok(mine.get("kbsyncd.source.path") == "sales/orders.csv", "the source path, relative to the folder", mine)
    t.ok(mine.get("kbsyncd.source.bytes") == str(len(text)), "its size in bytes", mine)
    t.ok(entry.get("fingerprint") and mine.get("kbsyncd.source.fingerprint") == entry["fingerprint"],
         "its fingerprint, as the state records it", (mine, entry))
    t.ok(mine.get("kbsyncd.source.rows") == "3", "its row count", mine)
    t.ok(mine.get("kbsyncd.host") == host_name(), "the host name", (mine, host_name()))
    version = daemon_version()
    t.ok(version and mine.get("kbsyncd.version") == version, "the daemon's version", (mine, version))
    t.ok("sales/orders.csv" in mine.get("KBC.description", "") and "kbsyncd" in mine["KBC.description"],
         "KBC.description says the table is synced from that file by kbsyncd", mine)

    # A person writes a description in the UI (provider user). Our own
    # description is removed first, so that only a new write could bring it back.
    ours = next(m["id"] for m in metadata(rig, "in.c-sales.orders")
                if m["provider"] == "kbsyncd" and m["key"] == "KBC.description")
    status, _ = api(rig, "DELETE", f"tables/in.c-sales.orders/metadata/{ours}")
    t.ok(status == 204, "our description removed through the API", status)
    status, _ = api(rig, "POST", "tables/in.c-sales.orders/metadata",
                    {"provider": "user", "metadata": [{"key": "KBC.description", "value": "Shop orders, by Ann"}]})
    t.ok(status == 201, "a user description is set", status)
    d.write("sales/orders.csv", text + "4,d\n")
    r = d.once()
    entries = metadata(rig, "in.c-sales.orders")
    t.ok(r.returncode == 0 and of(entries, "kbsyncd").get("kbsyncd.source.rows") == "4",
         "the next load writes its facts again", (entries, d.tail()))
    t.ok(of(entries, "user").get("KBC.description") == "Shop orders, by Ann", "the user's description is kept",
         entries)
    t.ok("KBC.description" not in of(entries, "kbsyncd"), "and kbsyncd wrote none beside it", entries)

    # A metadata write that keeps failing: the load is still ok.
    d2 = Daemon(rig, extra="retry = { base_ms = 50, cap_ms = 100, max_attempts = 2 },")
    rig.faults(script=[{"class": "tables", "method": "POST", "path": r"/metadata$", "kind": "500", "count": 10}])
    d2.write("crm/leads.csv", "id\n1\n")
    r = d2.once()
    warned = d2.log_lines("table_metadata_failed", "WARN")
    t.ok(r.returncode == 0 and rig.table_rows("in.c-crm.leads") == [["id"], ["1"]],
         "a failed metadata write does not fail the load", d2.tail())
    t.ok(warned and "action=" in warned[0] and "in.c-crm.leads" in warned[0],
         "table_metadata_failed is a WARN naming the table, with an action", d2.tail())
    rig.faults(script=[])


def create_branch(rig, name):
    status, job = api(rig, "POST", "dev-branches", {"name": name})
    if status != 202:
        raise RuntimeError(f"dev-branches: {status} {job}")
    end = time.monotonic() + 20
    while time.monotonic() < end:
        status, job = api(rig, "GET", f"jobs/{job['id']}")
        if job["status"] in ("success", "error"):
            return job["results"]
        time.sleep(0.05)
    raise RuntimeError("devBranchCreate did not finish")


def branch_rows(rig, branch_id, table_id):
    status, body = http("GET", f"{rig.url}/_emulator/tables/{table_id}.csv?branch={branch_id}")
    return parse_csv(body.decode("utf-8")) if status == 200 else None


def branches(t, rig):
    branch = create_branch(rig, "try-folder")
    d = Daemon(rig, extra='keboola = { branch = "try-folder" },')
    r = d.command("check")
    line = [x for x in r.stdout.splitlines() if x.startswith("branch")]
    t.ok(r.returncode == 0 and line == [f"branch        try-folder (id {branch['id']}), development branch"],
         "check names the branch", r.stdout + r.stderr)
    d.write("trial/items.csv", "id,v\n1,x\n2,y\n")
    seq = rig.last_seq()
    r = d.once()
    t.ok(r.returncode == 0, "once loads into the branch", d.tail())
    t.ok(branch_rows(rig, branch["id"], "in.c-trial.items") == [["id", "v"], ["1", "x"], ["2", "y"]],
         "the branch has the table with the file's rows", d.tail())
    calls = [q for q in rig.requests(seq) if q["path"].startswith("/v2/storage")]
    stray = [q["path"] for q in calls if not q["path"].startswith(f"/v2/storage/branch/{branch['id']}/")
             and not q["path"].startswith(("/v2/storage/jobs/", "/v2/storage/dev-branches"))]
    t.ok(calls and not stray, "every Storage call but jobs and the branch look-up went to the branch",
         stray)
    t.ok(sum(1 for q in calls if q["path"].startswith("/v2/storage/dev-branches")) == 1,
         "the branch was looked up once", [q["path"] for q in calls][:5])
    t.ok(rig.table_rows("in.c-trial.items") is None and "in.c-trial" not in rig.buckets(),
         "production has neither the table nor the bucket", sorted(rig.buckets()))
    t.ok(of(metadata_in(rig, branch["id"], "in.c-trial.items"), "kbsyncd").get("kbsyncd.source.path")
         == "trial/items.csv", "provenance is written in the branch too")

    d.write_config(extra='keboola = { branch = "no-such-branch" },')
    r = d.command("check")
    t.ok(r.returncode == 2 and "no-such-branch" in r.stderr and "try-folder" in r.stderr,
         "check with a branch that does not exist exits 2 naming the branches there are",
         (r.returncode, r.stderr))
    r = d.once(timeout=60)
    t.ok(r.returncode == 2 and "no-such-branch" in r.stderr and d.log_lines("branch_not_found", level="ERROR"),
         "once with a branch that does not exist exits 2 at once (a config error, not an outage)",
         (r.returncode, r.stderr))

    d.write_config()
    r = d.command("check")
    t.ok("branch        production (keboola.branch is not set)" in r.stdout, "check without a branch says production",
         r.stdout)


def metadata_in(rig, branch_id, table_id):
    status, body = api(rig, "GET", f"branch/{branch_id}/tables/{table_id}/metadata")
    return body if status == 200 else []


def main():
    t = Tap()
    rig = Rig("gcp")
    provenance(t, rig)
    branches(t, rig)
    rig.down()
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
