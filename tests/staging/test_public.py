#!/usr/bin/env python3
"""A public corpus nobody here wrote: csv-spectrum (tests/fixtures/public,
BSD-2-Clause, see its NOTICE), CSV parsing acid tests with the rows each
file holds as JSON.  For every file the C stager must find the dialect
(comma, double quote), stage it, and the spool read back with the upload
dialect it reports must hold exactly the JSON's header and rows: quotes
doubled inside values, commas and line breaks (LF and CRLF) inside
enclosures, JSON in a cell, UTF-8, empty fields.

Env: KBSYNCD_BUILD (default "build"): where tests/tool_stage is.
"""
import csv
import glob
import io
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stagetest import ROOT, TOOL, Tap  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "fixtures", "public", "csv-spectrum")


def main():
    tap = Tap()
    if not os.access(TOOL, os.X_OK):
        tap(False, f"{TOOL} is built (make {os.path.relpath(TOOL, ROOT)})")
        print(f"1..{tap.n}")
        return 1
    files = sorted(glob.glob(os.path.join(CORPUS, "*.csv")))
    tap(len(files) == 11, f"csv-spectrum has its 11 files ({len(files)})")
    with tempfile.TemporaryDirectory(prefix="kbsyncd-public-") as tmp:
        for path in files:
            name = os.path.basename(path)
            with open(path[:-4] + ".json", encoding="utf-8") as f:
                want = json.load(f)
            spool = os.path.join(tmp, name)
            p = subprocess.run([TOOL, path, spool, "--json"], capture_output=True)
            r = json.loads(p.stdout.decode("utf-8"))
            d, u = r["dialect"], r["upload"]
            tap(r["status"] == "done" and (d["delimiter"], d["enclosure"]) == (",", '"'),
                f"{name}: staged, dialect {d['delimiter']!r} {d['enclosure']!r}")
            with open(spool, encoding="utf-8", newline="") as f:
                text = f.read()
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=u["delimiter"],
                                   quotechar=u["enclosure"] or '"', doublequote=True))
            header, body = rows[0], rows[1:]
            got = [dict(zip(header, row)) for row in body]
            tap(header == list(want[0].keys()) and got == want and r["rows"] == len(want),
                f"{name}: the spool holds the header and the {len(want)} row(s) of its JSON"
                + ("" if got == want else f" (got {got!r})"))
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
