#!/usr/bin/env python3
"""The dialect corpus: what the C stager reads in each file of
tests/fixtures/csv (and in the large cases generated at test time) against
the side file NAME.expect.json.

A file counts as correctly read when the dialect (delimiter, enclosure,
escapedBy, lineTerminator, BOM) and the header match; the test prints the
accuracy and fails below 98%.  Rows and the UTF-8 verdict must match on
every file.  For comparison it also prints the accuracy of Python's
csv.Sniffer on the same files (delimiter, quote character and header; it
cannot express "no enclosure" or backslash escapes, which count against it).

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
from stagetest import CORPUS, ROOT, TOOL, Tap  # noqa: E402

sys.path.insert(0, CORPUS)
import generate  # noqa: E402

tap = Tap()


def stage_json(path):
    p = subprocess.run([TOOL, path, "--json"], capture_output=True)
    return json.loads(p.stdout.decode("utf-8", "surrogateescape"))


def dialect_of(e):
    return (e["delimiter"], e["enclosure"], e["escapedBy"], e["lineTerminator"], e["bom"])


def ours(path, e):
    r = stage_json(path)
    d = r["dialect"]
    got = (d["delimiter"], d["enclosure"], d["escapedBy"], d["lineTerminator"], d["bom"])
    dialect_ok = got == dialect_of(e)
    header_ok = e["header"] is None or r["header"]["raw"] == e["header"]
    return r, got, dialect_ok and header_ok


def sniffer(path, e):
    """csv.Sniffer on the same sample our sniffer sees (1 MiB, BOM removed)."""
    with open(path, "rb") as f:
        raw = f.read(1 << 20)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text = raw.decode("utf-8", "replace")
    try:
        d = csv.Sniffer().sniff(text, delimiters=",;\t|")
    except csv.Error:
        return False
    if d.delimiter != e["delimiter"]:
        return False
    if e["enclosure"] == "" or e["escapedBy"]:
        return False  # not expressible: Sniffer always names a quote char, never an escape
    if d.quotechar != e["enclosure"]:
        return False
    if e["header"] is None:
        return True
    try:
        first = next(csv.reader(io.StringIO(text, newline=""), d), [])
    except csv.Error:
        return False
    return first == e["header"]


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"not ok 1 - {TOOL} is built (make {os.path.relpath(TOOL, ROOT)})")
        print("1..1")
        return 1
    cases = sorted(glob.glob(os.path.join(CORPUS, "*.expect.json")))
    tmp = tempfile.TemporaryDirectory(prefix="kbsyncd-corpus-")
    generate.large_cases(tmp.name)
    cases += sorted(glob.glob(os.path.join(tmp.name, "*.expect.json")))
    tap(len(cases) >= 150, f"corpus has {len(cases)} files (at least 150)")

    right = sniffer_right = 0
    wrong = []
    for exp in cases:
        path = exp[: -len(".expect.json")] + ".csv"
        name = os.path.basename(path)
        with open(exp, encoding="utf-8") as f:
            e = json.load(f)
        r, got, good = ours(path, e)
        right += good
        sniffer_right += sniffer(path, e)
        if not good:
            wrong.append(f"{name}: got {got!r} header {r['header']['raw'][:5]!r}, "
                         f"expected {dialect_of(e)!r} header {(e['header'] or [])[:5]!r}")
        if e.get("empty"):
            tap(r["status"] == "error" and r["error"]["code"] == "empty", f"{name}: empty")
            continue
        tap(r["rows"] == e["rows"], f"{name}: rows {r['rows']} (expected {e['rows']})")
        valid = r["encoding"]["valid"]
        if e["utf8_valid"]:
            tap(valid, f"{name}: valid UTF-8")
        else:
            off = r["encoding"]["error"]["offset"] if not valid else None
            tap(not valid and off == e["utf8_offset"],
                f"{name}: invalid UTF-8 at offset {off} (expected {e['utf8_offset']})")
    total = len(cases)
    acc = 100.0 * right / total
    sacc = 100.0 * sniffer_right / total
    for w in wrong:
        print(f"# wrong: {w}")
    print(f"# accuracy: kbsyncd {right}/{total} = {acc:.1f}%; "
          f"Python csv.Sniffer {sniffer_right}/{total} = {sacc:.1f}%")
    tap(acc >= 98.0, f"dialect and header accuracy {acc:.1f}% (at least 98%)")
    tmp.cleanup()
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
