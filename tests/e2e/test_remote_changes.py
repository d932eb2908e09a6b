#!/usr/bin/env python3
"""What happens in Keboola, or to the state folder, behind the daemon's back
(docs/engine.md):

- a table deleted in Keboola while the daemon runs is created again at the
  next change of its file (`table_missing_remotely`, WARN), with the new
  content;
- both state.json and status.json gone: the restart adopts a table that
  was imported after its file's last change (`table_adopted`) and uploads
  nothing for it, while a file touched after its import is loaded again."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, http, wait_until  # noqa: E402


def delete_table(rig, table_id):
    status, body = http("DELETE", f"{rig.url}/v2/storage/tables/{table_id}",
                        headers={"X-StorageApi-Token": rig.token})
    return status, body


def lines_for(d, event, rel, after=0):
    """Lines of `event` for file `rel`, among the log lines after the first `after`."""
    tail = set(d.log().splitlines()[after:])
    return [l for l in d.log_lines(event) if f"file={rel}" in l.split() and l in tail]


def main():
    t = Tap()
    rig = Rig("gcp")
    d = Daemon(rig, settle_ms=100)
    d.write("sales/orders.csv", "id,name\n1,alpha\n")
    d.write("sales/items.csv", "sku,qty\nA,1\nB,2\n")
    d.start()
    if not t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "alpha"]]
                           and rig.table_rows("in.c-sales.items") == [["sku", "qty"], ["A", "1"], ["B", "2"]], 30),
                "both files loaded", d.tail()):
        return t.done()  # nothing below can mean anything without the first sync
    t.ok(wait_until(d.quiet, 30), "quiet after the first sync", d.status_json())

    # --- a table deleted in Keboola --------------------------------------
    status, body = delete_table(rig, "in.c-sales.orders")
    t.ok(status == 204 and "in.c-sales.orders" not in rig.tables(),
         "the table is deleted through the Storage API", (status, body[:200]))
    d.write("sales/orders.csv", "id,name\n1,alpha\n2,beta\n", atomic=True)
    t.ok(d.wait_log("table_missing_remotely", level="WARN", timeout=30),
         "the next change finds the table gone: table_missing_remotely WARN", d.tail())
    line = (d.log_lines("table_missing_remotely") or [""])[0]
    t.ok("table=in.c-sales.orders" in line and "file=sales/orders.csv" in line and "action=" in line,
         "the WARN names the table and the file", line)
    t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "alpha"], ["2", "beta"]], 30),
         "the table is created again with the file's new content", (rig.table_rows("in.c-sales.orders"), d.tail()))
    t.ok(not d.log_lines("create_failed") and not d.log_lines("import_failed"),
         "no create or import failure on the way", d.tail())
    t.ok(wait_until(d.quiet, 30), "quiet after the recreation", d.status_json())

    rc, _ = d.stop()
    t.ok(rc == 0, "TERM exits 0", d.tail())

    # --- adoption without state.json and status.json ---------------------
    # Both files were imported after their last change.  Touch items.csv to
    # a time after its import: it must be loaded; orders.csv must be adopted.
    future = time.time() + 3600
    os.utime(d.path("sales/items.csv"), (future, future))
    os.remove(os.path.join(d.state, "state.json"))
    os.remove(os.path.join(d.state, "status.json"))
    seq = rig.last_seq()
    mark = len(d.log().splitlines())
    d.start()
    t.ok(wait_until(lambda: lines_for(d, "table_adopted", "sales/orders.csv"), 30),
         "without state: the table imported after the file's last change is adopted (table_adopted)", d.tail())
    t.ok(wait_until(lambda: lines_for(d, "table_loaded", "sales/items.csv", mark), 30),
         "a file modified after its table's last import is loaded again", d.tail())
    t.ok(wait_until(d.quiet, 30), "quiet after the restart", d.status_json())
    adopted = lines_for(d, "table_adopted", "sales/orders.csv")[0]
    t.ok("table=in.c-sales.orders" in adopted, "table_adopted names the table", adopted)
    prepares = rig.count("POST", r"/v2/storage/files/prepare", since=seq)
    imports = rig.count("POST", r"/tables/in\.c-sales\.orders/import-async", since=seq)
    t.ok(prepares == 1 and imports == 0,
         f"only the touched file was uploaded ({prepares} upload(s)); nothing for the adopted one",
         rig.requests(seq))
    st = d.state_json() or {}
    entry = (st.get("files") or {}).get("sales/orders.csv") or {}
    t.ok(entry.get("table_id") == "in.c-sales.orders" and entry.get("fingerprint"),
         "the adopted file is recorded in the new state.json", entry)
    t.ok(rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "alpha"], ["2", "beta"]],
         "the adopted table is unchanged")
    rc, _ = d.stop()
    t.ok(rc == 0, "TERM exits 0 after the adopting run", d.tail())
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
