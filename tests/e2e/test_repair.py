"""policy.repair on the rig (docs/staging.md, "Repairs"): with
`policy.repair = { names = true, short_rows = "pad" }` a pandas-style file
(empty first header cell) whose last row is short loads as a table with
columns column_1,... and the missing values empty, the log says once per
load what was repaired, and a changed version reloads without a header
mismatch; the same file without the repair config is refused with its line
and nothing is uploaded, and loads without being touched once the repair
is configured; `kbsyncd inspect` shows the repairs and exits 0
with the config, exits 1 without it."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap  # noqa: E402

PROVIDER = sys.argv[1] if len(sys.argv) > 1 else "gcp"
UPLOADS = r"/v2/storage/files/prepare"
REPAIR = 'policy = { repair = { names = true, short_rows = "pad" } },'
FIRST = ",name,qty\n0,pen,3\n1,cup\n"
SECOND = ",name,qty\n0,pen,3\n1,cup,5\n2,ink\n"


def repaired(d, rel):
    return [x for x in d.log_lines("csv_repaired") if f"file={rel}" in x]


def repaired_load(t, rig):
    d = Daemon(rig, extra=REPAIR)
    d.write("pd/export.csv", FIRST)
    r = d.once()
    t.ok(r.returncode == 0, f"once loads the repaired file (rc={r.returncode})", r.stderr + d.tail())
    rows = rig.table_rows("in.c-pd.export")
    t.ok(rows == [["column_1", "name", "qty"], ["0", "pen", "3"], ["1", "cup", ""]],
         "the table has column_1 for the empty name and an empty value for the missing one", rows)
    cols = rig.tables().get("in.c-pd.export", {}).get("columns")
    t.ok(cols == ["column_1", "name", "qty"], "Keboola's table has the repaired columns", cols)
    lines = repaired(d, "pd/export.csv")
    first = lines[0] if lines else ""
    t.ok(len(lines) == 1 and "padded=1" in first and "first_padded_line=3" in first and
         "column_1" in first and "names_changed=1" in first and " WARN " in first,
         "one csv_repaired line for the load: 1 row padded on line 3, the renamed name", "\n".join(lines) or d.tail())

    d.write("pd/export.csv", SECOND)
    r = d.once()
    mismatch = [x for x in d.log_lines("header_mismatch") if "pd/export" in x]
    t.ok(r.returncode == 0 and not mismatch,
         f"the changed file reloads without a header mismatch (rc={r.returncode})", r.stderr + d.tail())
    rows = rig.table_rows("in.c-pd.export")
    t.ok(rows == [["column_1", "name", "qty"], ["0", "pen", "3"], ["1", "cup", "5"], ["2", "ink", ""]],
         "the table holds the second version, repaired the same way", rows)
    lines = repaired(d, "pd/export.csv")
    t.ok(len(lines) == 2, f"csv_repaired once per load ({len(lines)} after two loads)", "\n".join(lines))

    r = d.once()
    t.ok(r.returncode == 0 and len(repaired(d, "pd/export.csv")) == 2,
         "an unchanged file is not loaded again and logs no repair", d.tail())


def refused_without_repair(t, rig):
    d = Daemon(rig)
    d.write("raw/export.csv", FIRST)
    seq = rig.last_seq()
    r = d.once()
    t.ok(r.returncode == 1, f"without policy.repair once exits 1 (rc={r.returncode})", r.stderr + d.tail())
    line = next((x for x in d.log_lines("csv_invalid", level="ERROR") if "raw/export.csv" in x), "")
    t.ok("line 3" in line and "2 fields, expected 3" in line, "refused naming the short row's line", line or d.tail())
    calls = rig.requests(since=seq)
    t.ok(calls and not any(c["method"] == "POST" and UPLOADS in c["path"] for c in calls) and
         rig.table_rows("in.c-raw.export") is None,
         "nothing was uploaded and no table made", [c["path"] for c in calls])
    t.ok(not d.log_lines("csv_repaired"), "and nothing was repaired", d.tail())


def repair_turned_on(t, rig):
    """A file refused without repairs loads once they are configured,
    without being touched: its failure remembers the rules it was judged by."""
    d = Daemon(rig)
    d.write("late/export.csv", FIRST)
    r = d.once()
    t.ok(r.returncode == 1, f"refused without policy.repair (rc={r.returncode})", d.tail())
    before = os.stat(d.path("late/export.csv")).st_mtime_ns
    r = d.once()
    t.ok(r.returncode == 1 and "to_load=0" in (d.log_lines("reconciled") or [""])[-1]
         and rig.table_rows("in.c-late.export") is None,
         "a second once leaves the unchanged refused file alone (still failed, exit 1)",
         r.stderr + d.tail())
    d.write_config(extra=REPAIR)
    r = d.once()
    rec = [x for x in d.log_lines("reconciled") if "rules_changed=1" in x]
    t.ok(r.returncode == 0 and rec and os.stat(d.path("late/export.csv")).st_mtime_ns == before,
         "with policy.repair configured the untouched file is tried again (rules_changed=1)",
         r.stderr + d.tail())
    rows = rig.table_rows("in.c-late.export")
    t.ok(rows == [["column_1", "name", "qty"], ["0", "pen", "3"], ["1", "cup", ""]],
         "and loads repaired", rows)


def inspect(t, rig):
    d = Daemon(rig, extra=REPAIR)
    d.write("shop/export.csv", FIRST)
    r = d.command("inspect", d.path("shop/export.csv"))
    t.ok(r.returncode == 0 and "repaired  1 short row(s) padded" in r.stdout and
         'renamed: 1:""->"column_1"' in r.stdout and "keboola   column_1, name, qty" in r.stdout and
         "loaded after 2 repair(s)" in r.stdout,
         f"inspect with the repair config: the repairs, the repaired header, exit 0 (rc={r.returncode})",
         r.stdout + r.stderr)
    r = d.command("inspect", "--json", d.path("shop/export.csv"))
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = {}
    rep = doc.get("repair") or {}
    t.ok(r.returncode == 0 and doc.get("verdict", {}).get("load") is True and len(doc.get("repairs", [])) == 2 and
         rep.get("padded") == 1 and rep.get("names") == [{"column": 1, "from": "", "to": "column_1"}] and
         doc.get("header", {}).get("keboola") == ["column_1", "name", "qty"],
         "inspect --json: verdict load=true, the repairs listed, the resulting header", r.stdout + r.stderr)

    plain = Daemon(rig)
    plain.write("shop/export.csv", FIRST)
    r = plain.command("inspect", plain.path("shop/export.csv"))
    t.ok(r.returncode == 1 and "empty name" in r.stdout and "line 3 has 2" in r.stdout and
         "repaired" not in r.stdout,
         f"inspect without it: refused with the empty name and the line, exit 1 (rc={r.returncode})",
         r.stdout + r.stderr)


def main():
    t = Tap()
    rig = Rig(PROVIDER)
    for scenario in (repaired_load, refused_without_repair, repair_turned_on, inspect):
        scenario(t, rig)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
