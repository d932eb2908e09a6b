"""Messy CSVs as they come (docs/staging.md, "The sniffer"; docs/policy.md):
files separated by `:` and `^` load as the right tables; a quote never
closed is refused with its line before anything is uploaded; a column named
`oid` is stored as `oid_` and the file reloads without a header mismatch; a
name Keboola's webalize turns into a system column is refused before the
upload, naming the column; a header that differs from the table only in letter case is said to; and
`kbsyncd inspect` answers with the engine's own rule: exit 1 with the reason
for a CSV in the watched root or too deep, exit 0 and verdict load=true for
a good one."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap  # noqa: E402

PROVIDER = sys.argv[1] if len(sys.argv) > 1 else "gcp"
UPLOADS = r"/v2/storage/files/prepare"


def other_delimiters(t, rig):
    d = Daemon(rig)
    d.write("erp/parts.csv", "part:qty:at\nA-1:3:12.30\nB-2:0:08.05\n")
    d.write("erp/stock.csv", "sku^name^price\n1^Pen, blue^1,5\n2^Cup^2\n")
    r = d.once()
    t.ok(r.returncode == 0, f"once loads the ':' and '^' files (rc={r.returncode})", r.stderr + d.tail())
    t.ok(rig.table_rows("in.c-erp.parts") == [["part", "qty", "at"], ["A-1", "3", "12.30"], ["B-2", "0", "08.05"]],
         "the ':'-separated file is a table of three columns and its two rows",
         rig.table_rows("in.c-erp.parts"))
    t.ok(rig.table_rows("in.c-erp.stock") == [["sku", "name", "price"], ["1", "Pen, blue", "1,5"], ["2", "Cup", "2"]],
         "the '^'-separated file keeps the commas inside its values",
         rig.table_rows("in.c-erp.stock"))
    cols = {tid: tb.get("columns") for tid, tb in rig.tables().items()}
    t.ok(cols.get("in.c-erp.parts") == ["part", "qty", "at"] and cols.get("in.c-erp.stock") == ["sku", "name", "price"],
         "Keboola's tables have the files' columns", cols)


def unclosed_quote(t, rig):
    d = Daemon(rig)
    d.write("bad/open.csv", 'a,b\n"1","ok"\n"2","x\n"3","y"\n4,5\n')
    seq = rig.last_seq()
    r = d.once()
    t.ok(r.returncode == 1, f"once exits 1 for a quote never closed (rc={r.returncode})", r.stderr + d.tail())
    lines = d.log_lines("csv_invalid", level="ERROR")
    line = next((x for x in lines if "bad/open.csv" in x), "")
    t.ok("line 3" in line, "the refusal names the line where the open field starts", "\n".join(lines) or d.tail())
    calls = rig.requests(since=seq)
    t.ok(calls, "the daemon talked to the emulator in that run", d.tail())
    t.ok(not any(c["method"] == "POST" and UPLOADS in c["path"] for c in calls) and
         rig.table_rows("in.c-bad.open") is None,
         "nothing was uploaded and no table made", [c["path"] for c in calls])


def system_column(t, rig):
    d = Daemon(rig)
    d.write("sys/objects.csv", "id,oid\n1,a\n")
    r = d.once()
    t.ok(r.returncode == 0, f"a file with an 'oid' column loads (rc={r.returncode})", r.stderr + d.tail())
    t.ok(rig.table_rows("in.c-sys.objects") == [["id", "oid_"], ["1", "a"]],
         "the column is stored as oid_", rig.table_rows("in.c-sys.objects"))
    d.write("sys/objects.csv", "id,oid\n1,a\n2,b\n")
    r = d.once()
    t.ok(r.returncode == 0 and not [x for x in d.log_lines("header_mismatch") if "sys/objects" in x],
         f"its second version reloads without a header mismatch (rc={r.returncode})", r.stderr + d.tail())
    t.ok(rig.table_rows("in.c-sys.objects") == [["id", "oid_"], ["1", "a"], ["2", "b"]],
         "the table holds the second version", rig.table_rows("in.c-sys.objects"))


def transliterated_reserved(t, rig):
    # Staging cannot transliterate "čtid"; Keboola's webalize answers 200
    # with "ctid", a system column name: refused before any upload.
    d = Daemon(rig)
    d.write("webal/sys.csv", "id,\u010dtid\n1,x\n")
    seq = rig.last_seq()
    r = d.once()
    line = next((x for x in d.log_lines("header_invalid", level="ERROR") if "webal/sys.csv" in x), "")
    t.ok(r.returncode == 1 and "column 2" in line and "\u010dtid" in line and "reserved" in line,
         f"a name webalize turns into a system column is header_invalid naming the column (rc={r.returncode})",
         line or r.stderr + d.tail())
    calls = rig.requests(since=seq)
    t.ok(any("webalize" in c["path"] for c in calls) and
         not any(c["method"] == "POST" and UPLOADS in c["path"] for c in calls),
         "webalize was asked and nothing was uploaded", [c["path"] for c in calls])


def letter_case(t, rig):
    d = Daemon(rig)
    d.write("case/people.csv", "id,name\n1,a\n")
    r = d.once()
    t.ok(r.returncode == 0, f"the first version loads (rc={r.returncode})", r.stderr + d.tail())
    d.write("case/people.csv", "ID,Name\n1,a\n")
    r = d.once()
    lines = [x for x in d.log_lines("header_mismatch", level="ERROR") if "case/people" in x]
    t.ok(r.returncode == 1 and lines, f"a header in other letter case is a mismatch (rc={r.returncode})",
         r.stderr + d.tail())
    last = lines[-1] if lines else ""
    # the log writes a quote inside a value as \"
    spelled = r'file \"ID\",\"Name\", table \"id\",\"name\"'
    t.ok("case_only=true" in last and "only in letter case" in last and spelled in last,
         "the log says it differs only in letter case, with both spellings", last)


def inspect(t, rig):
    d = Daemon(rig)
    d.write("top.csv", "id\n1\n")
    d.write("shop/deep/x.csv", "id\n1\n")
    d.write("shop/good.csv", "id,name\n1,pen\n")
    for rel, want in (("top.csv", "directly in the watched folder"), ("shop/deep/x.csv", "deeper folders")):
        r = d.command("inspect", d.path(rel))
        t.ok(r.returncode == 1 and want in r.stdout and "cannot be loaded: ignored" in r.stdout,
             f"inspect {rel} exits 1 with the reason (rc={r.returncode})", r.stdout + r.stderr)
    r = d.command("inspect", "--json", d.path("shop/deep/x.csv"))
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = {}
    t.ok(r.returncode == 1 and doc.get("verdict", {}).get("load") is False and
         "deeper folders" in doc["verdict"].get("reason", "") and "deeper folders" in r.stderr,
         "inspect --json: verdict load=false with the reason, and the reason on stderr", r.stdout + r.stderr)
    r = d.command("inspect", "--json", d.path("shop/good.csv"))
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = {}
    t.ok(r.returncode == 0 and doc.get("verdict") == {"load": True, "reason": "loaded as it is into in / shop / good"}
         and doc.get("target", {}).get("table") == "good",
         f"inspect --json of a good CSV exits 0 with verdict load=true (rc={r.returncode})", r.stdout + r.stderr)


def main():
    t = Tap()
    rig = Rig(PROVIDER)
    for scenario in (other_delimiters, unclosed_quote, system_column, transliterated_reserved, letter_case,
                     inspect):
        scenario(t, rig)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
