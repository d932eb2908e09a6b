#!/usr/bin/env python3
"""CSV import semantics on tricky files: dialects, gzip, header rules, empty files."""
import gzip

from rigclient import Rig
from tap import Tap, tests_in
from uploads import upload

BUCKET = "in.c-imp"


def create(rig, name, data, file_name=None, **options):
    prepared = rig.prepare(file_name or f"{name}.csv")
    upload(rig, prepared, data)
    body = dict(name=name, dataFileId=prepared["id"], **options)
    reply = rig.api("POST", f"buckets/{BUCKET}/tables-async", body)
    return rig.wait_job(reply.json) if reply.status == 202 else reply


def load(rig, table, data, file_name="load.csv", **options):
    prepared = rig.prepare(file_name)
    upload(rig, prepared, data)
    reply = rig.api("POST", f"tables/{BUCKET}.{table}/import-async",
                    dict(dataFileId=prepared["id"], incremental=False, **options))
    return rig.wait_job(reply.json) if reply.status == 202 else reply


def test_quoted_newlines_crlf_and_bom(tap, rig):
    job = create(rig, "t1", b'\xef\xbb\xbf"id","note"\r\n1,"line1\r\nline2"\r\n2,"say ""hi"""\r\n')
    tap.eq(job["status"], "success", "BOM + CRLF + quoted CRLF file loads")
    tap.eq(job["results"]["columns"], ["id", "note"], "BOM stripped from the first column name")
    tap.eq(rig.dump(f"{BUCKET}.t1"), '"id","note"\n"1","line1\r\nline2"\n"2","say ""hi"""\n',
           "values kept exactly")


def test_other_delimiters_and_escapes(tap, rig):
    job = create(rig, "semi", b"a;b\n1;x,y\n", delimiter=";")
    tap.eq(rig.dump(f"{BUCKET}.semi"), '"a","b"\n"1","x,y"\n', "semicolon delimiter")
    create(rig, "tab", b"a\tb\n1\t2\n", delimiter="\\t")
    tap.eq(rig.dump(f"{BUCKET}.tab"), '"a","b"\n"1","2"\n', "tab delimiter written as \\t")
    job = create(rig, "esc", b"a,b\nx\\,y,z\\\\w\n", escapedBy="\\")
    tap.eq(job["status"], "success", "escapedBy backslash without enclosure")
    tap.eq(rig.dump(f"{BUCKET}.esc"), '"a","b"\n"x,y","z\\w"\n', "escaped delimiter and escape")
    tap.eq(create(rig, "noeol", b"a,b\n1,2")["results"]["rowsCount"], 1, "last line without newline")


def test_gzip_by_name(tap, rig):
    job = create(rig, "gz", gzip.compress(b"a,b\n1,2\n"), file_name="gz.csv.gz")
    tap.ok(job["status"] == "success" and job["metrics"]["inCompressed"], "gzip file named .gz loads")
    job = create(rig, "notgz", b"a,b\n1,2\n", file_name="notgz.csv.gz")
    tap.eq((job["status"], job["error"]["code"]), ("error", "csvImport.loadError"),
           "plain bytes named .gz fail the job")
    job = create(rig, "gzraw", gzip.compress(b"a\n1\n"), file_name="gzraw.csv")
    tap.eq(job["status"], "error", "gzip bytes without .gz are read as (invalid) text")


def test_header_sanitised_and_validated(tap, rig):
    job = create(rig, "names", "Id,with spaces,žluťoučký kůň,_x-y_\n1,2,3,4\n".encode())
    tap.eq(job["results"]["columns"], ["Id", "with_spaces", "zlutoucky_kun", "x_y"], "header sanitised")
    job = load(rig, "names", "Id,with spaces,žluťoučký kůň,_x-y_\n5,6,7,8\n".encode())
    tap.eq(job["status"], "success", "re-import of the same raw header matches")
    job = create(rig, "dup", b"a,A\n1,2\n")
    tap.eq(job["status"], "error", "duplicate names (case-insensitive) fail")
    job = create(rig, "dup2", b"a b,a_b\n1,2\n")
    tap.eq(job["status"], "error", "names that sanitise to the same fail")
    job = create(rig, "longcol", ("x" * 65 + "\n1\n").encode())
    tap.eq(job["error"]["code"], "storage.tables.validation.invalidColumnName", "65-char column name")
    job = create(rig, "emptycol", b"a,$$$\n1,2\n")
    tap.eq(job["error"]["code"], "storage.tables.validation.invalidColumnName", "name empty after sanitising")
    job = create(rig, "pk", b"a,b\n1,2\n", primaryKey="a,c")
    tap.eq(job["error"]["code"], "storage.tables.validation.invalidPrimaryKeyColumns", "bad primary key")


def test_missing_extra_and_reordered_columns(tap, rig):
    create(rig, "cols", b"id,name\n1,a\n")
    job = load(rig, "cols", b"id\n2\n")
    tap.eq(job["error"]["code"], "csvImport.columnsNotMatch", "missing column fails")
    tap.eq(job["results"], {"missingColumns": ["name"], "expectedColumns": ["id", "name"]},
           "results list missing and expected columns")
    tap.ok(job["error"]["message"].startswith("Some columns are missing in the csv file. Missing columns: name."),
           "documented message", job["error"]["message"])
    tap.eq(load(rig, "cols", b"Id,Name\n2,b\n")["status"], "error", "matching is case-sensitive")
    job = load(rig, "cols", b"name,id,extra\nb,2,e\n")
    tap.eq(job["status"], "success", "reordered header with an extra column loads")
    tap.eq(rig.dump(f"{BUCKET}.cols"), '"id","name","extra"\n"2","b","e"\n',
           "extra column appended, values matched by name, full load truncated")


def test_ragged_rows_and_syntax_errors(tap, rig):
    job = create(rig, "ragged", b"a,b\n1,2\n3\n")
    tap.ok(job["status"] == "error" and job["error"]["message"].startswith("Load error:"),
           "row with too few fields fails with Load error:")
    tap.eq(create(rig, "unterminated", b'a,b\n1,"2\n')["status"], "error", "unterminated enclosure fails")
    tap.eq(create(rig, "badutf", b"a,b\n1,\xff\n")["status"], "error", "invalid UTF-8 fails")
    tap.eq(create(rig, "mac", b"a,b\r1,2\r")["status"], "error", "CR-only line breaks fail")


def test_empty_files(tap, rig):
    job = create(rig, "empty", b"")
    tap.eq(job["error"]["code"], "storage.tables.validation.noColumns", "empty file on create")
    create(rig, "target", b"a\n1\n")
    job = load(rig, "target", b"")
    tap.eq(job["error"]["code"], "csvImport.columnsNotMatch", "empty file on import")
    job = load(rig, "target", b"a\n")
    tap.ok(job["status"] == "success" and job["results"]["totalRowsCount"] == 0,
           "header-only file empties the table")


def test_without_headers_and_columns(tap, rig):
    create(rig, "nohdr", b"a,b\n1,2\n")
    job = load(rig, "nohdr", b"3,4\n", withoutHeaders=True)
    tap.eq(rig.dump(f"{BUCKET}.nohdr"), '"a","b"\n"3","4"\n', "withoutHeaders uses table column order")
    job = load(rig, "nohdr", b"5,6\n", columns=["b", "a"])
    tap.eq((job["status"], rig.dump(f"{BUCKET}.nohdr")), ("success", '"a","b"\n"6","5"\n'),
           "columns names the file's columns")


def test_imports_to_one_table_are_serialised(tap, rig):
    create(rig, "serial", b"n\n0\n")
    jobs = []
    for index in range(1, 6):
        prepared = rig.prepare("s.csv")
        upload(rig, prepared, f"n\n{index}\n".encode())
        jobs.append(rig.api("POST", f"tables/{BUCKET}.serial/import-async",
                            {"dataFileId": prepared["id"]}).json)
    finals = [rig.wait_job(job) for job in jobs]
    tap.ok(all(j["status"] == "success" for j in finals), "five queued imports succeed")
    tap.eq(rig.dump(f"{BUCKET}.serial"), '"n"\n"5"\n', "the last submitted import wins")


if __name__ == "__main__":
    tap = Tap()
    with Rig("gcp", "--job-polls", "0") as rig:
        def fresh(function):
            def run(t):
                rig.reset()
                rig.create_bucket("imp")
                function(t, rig)
            return run
        tap.run([(name, fresh(fn)) for name, fn in tests_in(globals())])
    tap.finish()
