#!/usr/bin/env python3
"""Round trips through the C stager (driven by build/tests/tool_stage).

For every readable corpus file: the spool, parsed by Python's csv module
with the *upload* dialect the stager reports, gives the same records as the
source parsed with the *source* dialect.  Every fourth file is gzipped
(threshold 1 byte) and read back with `gunzip -c`.  Then: a header
replacement, and a source that grows while it is staged (unstable: error,
no spool left behind).

Env: KBSYNCD_BUILD (default "build").
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
from stagetest import CORPUS, TOOL, Tap  # noqa: E402

tap = Tap()


def stage(*args):
    p = subprocess.run([TOOL, *args, "--json"], capture_output=True)
    return json.loads(p.stdout.decode("utf-8", "surrogateescape"))


def records(data, d):
    """Records as the stager defines them: an empty line is one empty field
    (Python says []), and trailing empty lines are not records."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8")
    kw = {"delimiter": d["delimiter"], "doublequote": True, "strict": False}
    if d["enclosure"]:
        kw["quotechar"] = d["enclosure"]
        kw["quoting"] = csv.QUOTE_MINIMAL
    else:
        kw["quoting"] = csv.QUOTE_NONE
    if d["escapedBy"]:
        kw["escapechar"] = d["escapedBy"]
    rows = [r if r else [""] for r in csv.reader(io.StringIO(text, newline=""), **kw)]
    while rows and rows[-1] == [""]:
        rows.pop()
    return rows


def spool_bytes(path, gz):
    if gz:
        return subprocess.run(["gunzip", "-c", path], capture_output=True, check=True).stdout
    with open(path, "rb") as f:
        return f.read()


def main():
    tmp = tempfile.TemporaryDirectory(prefix="kbsyncd-roundtrip-")
    cases = sorted(glob.glob(os.path.join(CORPUS, "*.csv")))
    done = 0
    for i, src in enumerate(cases):
        name = os.path.basename(src)
        with open(src, "rb") as f:
            data = f.read()
        gz = i % 4 == 0
        spool = os.path.join(tmp.name, name + (".gz" if gz else ""))
        args = [src, spool] + (["--gzip-threshold", "1"] if gz else [])
        r = stage(*args)
        if r["status"] != "done":
            # only files Keboola could not take may fail to stage
            tap(r["error"]["code"] in ("utf8", "empty", "quote"),
                f"{name}: refused with {r['error']['code']}")
            tap(not os.path.exists(spool) and not glob.glob(spool + ".tmp.*"),
                f"{name}: nothing left behind")
            continue
        out = spool_bytes(spool, gz)
        tap(r["gzip"] == gz and len(out) > 0 and (not gz or r["spool_bytes"] == os.path.getsize(spool)),
            f"{name}: spool written{' (gzip, checked with gunzip)' if gz else ''}")
        src_rows = records(data, r["dialect"])
        spool_rows = records(out, r["upload"])
        tap(src_rows == spool_rows,
            f"{name}: {len(spool_rows)} records the same through the "
            f"{'normalised' if r['normalize'] else 'copied'} spool")
        tap(not out.startswith(b"\xef\xbb\xbf"), f"{name}: no BOM in the spool")
        done += 1
    tap(done >= 140, f"{done} files staged and compared")

    # header replacement keeps the data and swaps the first line
    src = os.path.join(CORPUS, "semicolon-decimal-commas.csv")
    spool = os.path.join(tmp.name, "renamed.csv")
    r = stage(src, spool, "--name", "Id", "--name", "Price; EUR", "--name", "Qty")
    out = spool_bytes(spool, False)
    tap(r["status"] == "done" and out.startswith(b'Id;"Price; EUR";Qty\n'),
        "header replacement quoted in the source dialect")
    tap(r["header"]["keboola"] == ["Id", "Price_EUR", "Qty"] and r["header"]["raw"][1] == "price",
        "keboola names are those of the replacement, raw names the source's")

    # a source that grows while being staged
    big = os.path.join(tmp.name, "growing.csv")
    with open(big, "w") as f:
        f.write("id,v\n")
        for k in range(100000):
            f.write(f"{k},value {k}\n")
    spool = os.path.join(tmp.name, "growing.spool")
    r = stage(big, spool, "--sample", "4096", "--step", "65536",
              "--append-after-first-step", "100000,late\n")
    tap(r["status"] == "error" and r["unstable"] and r["error"]["code"] == "unstable",
        "a source appended to during staging is unstable")
    tap(not os.path.exists(spool) and not glob.glob(spool + ".tmp.*"),
        "and no spool or temporary file is left")
    r = stage(big, spool, "--sample", "4096", "--step", "65536")
    tap(r["status"] == "done" and r["steps"] > 3 and r["rows"] == 100001,
        f"once stable it stages in {r['steps']} steps")
    tmp.cleanup()
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
