"""The basic path, per provider (aws and gcp): folder -> bucket, CSV -> table
with exactly its content, edit -> full load, header change -> ERROR and the
remote untouched, ignored files, a root file logged, 300 saves coalesced."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402

PROVIDERS = sys.argv[1:] or ["aws", "gcp"]


def check_provider(t, provider):
    t.diag(f"provider {provider}")
    rig = Rig(provider)
    d = Daemon(rig)
    d.write("sales/orders.csv", "id,name\n1,alpha\n2,beta\n")
    d.write("sales/notes.txt", "not a csv\n")
    d.write("sales/.hidden.csv", "id\n1\n")
    d.write("sales/~$orders.csv", "lock\n")
    d.write("sales/orders.csv.tmp", "id\n")
    d.write("readme.csv", "id\n1\n")
    d.start()
    p = provider

    t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "alpha"], ["2", "beta"]], 30),
         f"{p}: a CSV becomes a table with exactly its content", d.tail())
    t.ok("in.c-sales" in rig.buckets(), f"{p}: the folder became bucket in.c-sales")

    os.makedirs(d.path("marketing"))
    t.ok(wait_until(lambda: "in.c-marketing" in rig.buckets(), 20),
         f"{p}: a new empty folder gets its bucket", d.tail())

    d.write("sales/orders.csv", "id,name\n1,alpha\n2,beta\n3,gamma\n", atomic=True)
    t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "alpha"], ["2", "beta"], ["3", "gamma"]], 30),
         f"{p}: an edit (atomic rename) is loaded in full", d.tail())

    seq = rig.last_seq()
    d.write("sales/orders.csv", "id,title\n9,changed\n")
    ok = d.wait_log("header_mismatch", level="ERROR", timeout=20)
    t.ok(ok, f"{p}: a header change logs ERROR header_mismatch", d.tail())
    line = (d.log_lines("header_mismatch") or [""])[-1]
    t.ok("missing=name" in line and "extra=title" in line and "action=" in line,
         f"{p}: the ERROR names missing and extra columns and what to do", line)
    rows = rig.table_rows("in.c-sales.orders")
    t.ok(rows and rows[-1] == ["3", "gamma"], f"{p}: the remote table is unchanged after a header change", rows)
    t.ok(rig.count("POST", r"files/prepare", since=seq) == 0, f"{p}: nothing was uploaded for the mismatching file")

    tables = rig.tables()
    t.ok(set(tables) == {"in.c-sales.orders"},
         f"{p}: non-CSV, hidden, lock and temp files and root files make no table", sorted(tables))
    t.ok(d.log_lines("root_file_ignored"), f"{p}: a file directly in the root is logged", d.tail())

    # 300 saves of one file within about 3 s: at most 3 loads, the last content wins.
    d.write("sales/orders.csv", "id,name\n0,start\n")
    t.ok(wait_until(lambda: (rig.table_rows("in.c-sales.orders") or [[]])[-1] == ["0", "start"], 30),
         f"{p}: the file is loadable again after its header was fixed", d.tail())
    seq = rig.last_seq()
    t0 = time.monotonic()
    for i in range(300):
        d.write("sales/orders.csv", f"id,name\n{i},save-{i}\n", atomic=(i % 2 == 0))
        time.sleep(0.009)
    t.diag(f"300 saves took {time.monotonic() - t0:.2f}s")
    t.ok(wait_until(lambda: (rig.table_rows("in.c-sales.orders") or [[]])[-1] == ["299", "save-299"], 30),
         f"{p}: after 300 saves Keboola holds the last content", d.tail())
    time.sleep(0)  # no fixed waits: the count below is taken once the content arrived
    loads = rig.count("POST", r"import-async|tables-async", since=seq)
    t.ok(1 <= loads <= 3, f"{p}: 300 saves made {loads} loads (at most 3)")

    rc, took = d.stop()
    t.ok(rc == 0, f"{p}: TERM exits 0 (took {took:.1f}s)", d.tail())
    t.ok(not [x for x in d.log_lines("task_failed")], f"{p}: no task crashed", d.tail())
    rig.down()


def main():
    t = Tap()
    for p in PROVIDERS:
        try:
            check_provider(t, p)
        except Exception as exc:  # a broken rig is a failure, not a crash
            t.ok(False, f"{p}: the scenario ran to its end", repr(exc))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
