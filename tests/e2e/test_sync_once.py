"""`kbsyncd once` exit codes and summary, `kbsyncd status` (text and JSON),
`--dry-run` (read calls only), policy hooks from the config (a hook that
raises fails only its file), and name collisions (neither file loaded)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap  # noqa: E402

PROVIDER = sys.argv[1] if len(sys.argv) > 1 else "azure"

POLICY = r"""
policy = {
  table = function(file)
    if file.name == "boom.csv" then error("policy test: boom") end
    if file.name == "renamed.csv" then return "custom_name" end
    return (file.name:gsub("%.csv$", ""):gsub("[^A-Za-z0-9_-]+", "_"))
  end,
},
"""


def main():
    t = Tap()
    rig = Rig(PROVIDER)
    d = Daemon(rig, extra=POLICY)
    d.write("shop/items.csv", "id,name\n1,pen\n")
    d.write("shop/renamed.csv", "id\n1\n")
    d.write("shop/boom.csv", "id\n1\n")
    d.write("shop/a b.csv", "id\n1\n")
    d.write("shop/a_b.csv", "id\n2\n")

    # -- dry run first: only read calls, every write logged as would_*
    seq = rig.last_seq()
    r = d.once("--dry-run")
    calls = rig.requests(since=seq)
    writes = [x for x in calls if x["method"] != "GET"]
    t.ok(calls and not writes, f"--dry-run reads the remote side ({len(calls)} calls) and makes no write call",
         writes or r.stdout[-800:] + r.stderr[-800:])
    t.ok(not rig.buckets() and not rig.tables(), "--dry-run creates nothing")
    log = d.log()
    t.ok("would_create_bucket" in log and "would_upload" in log and "would_create_table" in log,
         "--dry-run logs the writes it would make", d.tail())
    t.ok(d.state_json() is None, "--dry-run writes no state")

    # -- once: a policy error and a collision fail their files only -> exit 1
    r = d.once()
    t.ok(r.returncode == 1, f"once exits 1 when a file failed (rc={r.returncode})", r.stderr + d.tail())
    t.ok("not in sync" in r.stderr and "shop/boom.csv" in r.stderr, "once prints a summary of what failed", r.stderr)
    t.ok(rig.table_rows("in.c-shop.items") == [["id", "name"], ["1", "pen"]], "the other files were loaded")
    t.ok(rig.table_rows("in.c-shop.custom_name") == [["id"], ["1"]], "policy.table from the config names the table")
    pol = d.log_lines("policy_failed", level="ERROR")
    t.ok(pol and "policy test: boom" in pol[0] and "traceback" in pol[0].lower(),
         "a policy error is logged with its traceback", d.tail())
    coll = d.log_lines("table_name_collision", level="ERROR")
    t.ok(coll and "shop/a b.csv" in "\n".join(coll) and "shop/a_b.csv" in "\n".join(coll),
         "two files mapping to one table are reported by name", d.tail())
    t.ok(rig.table_rows("in.c-shop.a_b") is None, "neither colliding file was loaded")

    # -- fix the problems: once exits 0
    os.remove(d.path("shop/boom.csv"))
    os.remove(d.path("shop/a b.csv"))
    r = d.once()
    t.ok(r.returncode == 0, f"once exits 0 when everything is in sync (rc={r.returncode})", r.stderr + d.tail())
    t.ok(rig.table_rows("in.c-shop.a_b") == [["id"], ["2"]], "the collision resolved, the file is loaded")

    # -- header mismatch: exit 1 and the remote untouched; status shows it
    d.write("shop/items.csv", "id,label\n1,pen\n")
    r = d.once()
    t.ok(r.returncode == 1 and "header_mismatch" in r.stderr, "once exits 1 on a header mismatch", r.stderr)
    s = d.command("status")
    t.ok(s.returncode == 0 and "in.c-shop.items" in s.stdout and "header_mismatch" in s.stdout,
         "status lists tables and the failure", s.stdout + s.stderr)
    t.ok(d.rig.token not in s.stdout, "status never shows the token")
    js = d.command("status", "--json")
    try:
        doc = json.loads(js.stdout)
    except ValueError:
        doc = {}
    t.ok(doc.get("counts", {}).get("failures") == 1 and any(x.get("file") == "shop/items.csv" for x in doc.get("failures", [])),
         "status --json carries the failure", js.stdout[:2000])
    with open(os.path.join(d.state, "status.json")) as f:
        t.ok(d.rig.token not in f.read(), "status.json never holds the token")
    with open(os.path.join(d.state, "state.json")) as f:
        t.ok(d.rig.token not in f.read(), "state.json never holds the token")

    # -- a rejected token: exit 3
    r = d.once(KBC_STORAGE_API_TOKEN="123-999-not-a-valid-token")
    t.ok(r.returncode == 3, f"once exits 3 when the token is rejected (rc={r.returncode})", r.stderr + d.tail())
    t.ok(d.log_lines("token_rejected", level="ERROR"), "the rejection is logged with what to do")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
