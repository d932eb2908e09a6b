#!/usr/bin/env python3
"""Policy hooks from config.lua, end to end (docs/policy.md):

- `on_header_change` returning "load": a header that gained a column is
  loaded, `header_change_loading` (WARN) says so, the table gets the new
  column and rows;
- `should_load` returning false: nothing is uploaded for that file, at
  start or when it changes (`load_skipped`), while other files load;
- `columns` renaming the header: the table is created with the renamed
  columns and the file's rows."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402

POLICY = """
  policy = {
    on_header_change = function(file, localn, remote, diff)
      return "load"
    end,
    should_load = function(file, state)
      return file.name ~= "private.csv"
    end,
    columns = function(file, names)
      if file.folder ~= "renamed" then return names end
      local out = {}
      for i, n in ipairs(names) do out[i] = "col_" .. n end
      return out
    end,
  },
"""


def columns(rig, table_id):
    t = rig.tables().get(table_id)
    return t and t.get("columns")


def prepares(rig, since=0):
    return rig.count("POST", r"/v2/storage/files/prepare", since=since)


def main():
    t = Tap()
    rig = Rig("gcp")
    d = Daemon(rig, settle_ms=100, extra=POLICY)
    d.write("sales/orders.csv", "id,name\n1,alpha\n2,beta\n")
    d.write("sales/private.csv", "id,secret\n1,hush\n")
    d.write("renamed/people.csv", "id,name\n7,ann\n8,bob\n")
    seq0 = rig.last_seq()
    d.start()

    t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "alpha"], ["2", "beta"]], 30),
         "a file the hooks let through is loaded", d.tail())

    # columns hook: the table carries the renamed header and the file's rows.
    t.ok(wait_until(lambda: columns(rig, "in.c-renamed.people") == ["col_id", "col_name"], 30),
         "columns hook: the table has the renamed columns", (columns(rig, "in.c-renamed.people"), d.tail()))
    t.ok(rig.table_rows("in.c-renamed.people") == [["col_id", "col_name"], ["7", "ann"], ["8", "bob"]],
         "columns hook: the rows arrive under the renamed columns", rig.table_rows("in.c-renamed.people"))

    # should_load = false: skipped at start, nothing uploaded for it.
    t.ok(d.wait_log("load_skipped", timeout=30) and
         any("file=sales/private.csv" in l for l in d.log_lines("load_skipped")),
         "should_load=false: the file is skipped (load_skipped)", d.tail())
    t.ok(wait_until(d.quiet, 30), "the daemon goes quiet after the first sync", d.status_json())
    t.ok("in.c-sales.private" not in rig.tables(), "should_load=false: no table for the skipped file",
         sorted(rig.tables()))
    n = prepares(rig, seq0)
    t.ok(n == 2, f"should_load=false: exactly two uploads at start, for the two loaded files (got {n})")

    # A change of the skipped file is skipped again; nothing is uploaded.
    seq = rig.last_seq()
    before = len([l for l in d.log_lines("load_skipped") if "file=sales/private.csv" in l])
    d.write("sales/private.csv", "id,secret\n1,hush\n2,still\n", atomic=True)
    t.ok(wait_until(lambda: len([l for l in d.log_lines("load_skipped") if "file=sales/private.csv" in l]) > before, 30),
         "should_load=false: a change of the file is skipped too", d.tail())
    t.ok(prepares(rig, seq) == 0 and "in.c-sales.private" not in rig.tables(),
         "should_load=false: still nothing uploaded after the change", rig.requests(seq))

    # on_header_change = "load": a column added to the file is loaded.
    d.write("sales/orders.csv", "id,name,email\n1,alpha,a@x\n3,gamma,g@x\n", atomic=True)
    t.ok(d.wait_log("header_change_loading", level="WARN", timeout=30),
         "on_header_change=load: header_change_loading is a WARN", d.tail())
    line = (d.log_lines("header_change_loading") or [""])[0]
    t.ok("table=in.c-sales.orders" in line and "file=sales/orders.csv" in line and "email" in line
         and "action=" in line,
         "the WARN names the table, the file, the new column and an action", line)
    t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") ==
                    [["id", "name", "email"], ["1", "alpha", "a@x"], ["3", "gamma", "g@x"]], 30),
         "on_header_change=load: the table holds the new column and rows", rig.table_rows("in.c-sales.orders"))
    t.ok(not d.log_lines("header_mismatch"), "no header_mismatch ERROR when the hook loads", d.tail())
    t.ok(not d.log_lines("policy_failed") and not d.log_lines("task_failed"), "no hook failed", d.tail())

    rc, _ = d.stop()
    t.ok(rc == 0, "TERM exits 0", d.tail())
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
