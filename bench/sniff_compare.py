#!/usr/bin/env python3
"""Dialect detection: accuracy and speed of kbsyncd's sniffer, Python's
csv.Sniffer and CleverCSV on tests/fixtures/csv and tests/fixtures/heldout.

    python3 bench/sniff_compare.py [BUILD]     # BUILD: default "build"

Run it with the interpreter apt installs for (/usr/bin/python3).

CleverCSV is needed for its column only (bench, never a test dependency):
    apt-get install -y python3-clevercsv
Without it the table shows "not installed".  A file counts as right when
delimiter and enclosure match its expect.json (one-column files: when the
delimiter splits no line of the sample outside enclosures); each tool sees
the same sample (the first 1 MiB, BOM removed).  Times are per file, the
median over the corpus.
"""
import csv
import glob
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
TOOL = os.path.join(BUILD, "tests", "tool_sniff")

try:
    import clevercsv
except ImportError:
    clevercsv = None


def sample(path):
    with open(path, "rb") as f:
        raw = f.read(1 << 20)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", "replace")


def right(e, text, delim, quote):
    if e.get("empty"):
        return True
    if e.get("columns") == 1:
        rows = list(csv.reader(text.splitlines(), delimiter=delim or ",", quotechar=quote or '"'))
        return all(len(r) <= 1 for r in rows) and (quote or "") == e["enclosure"]
    return delim == e["delimiter"] and (quote or "") == e["enclosure"]


def ours(paths):
    out = subprocess.run([TOOL, "--repeat", "5"] + paths, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return {d["file"]: d for d in map(json.loads, out)}


def python_sniffer(text):
    try:
        d = csv.Sniffer().sniff(text)
        return d.delimiter, d.quotechar
    except csv.Error:
        return None, None


def clever(text):
    try:
        d = clevercsv.Detector().detect(text)
    except clevercsv.exceptions.Error:  # e.g. a NUL byte: no answer
        return None, None
    return (d.delimiter, d.quotechar) if d else (None, None)


# The public corpus (csv-spectrum) has no expect.json: every file is
# comma-separated with double quotes (its JSON twins say so).
PUBLIC = {"delimiter": ",", "enclosure": '"'}


def expectations(corpus):
    """[(path, expected dialect)] of a corpus under tests/fixtures."""
    folder = os.path.join(ROOT, "tests", "fixtures", corpus)
    exps = sorted(glob.glob(os.path.join(folder, "*.expect.json")))
    if not exps:
        return [(p, PUBLIC) for p in sorted(glob.glob(os.path.join(folder, "*.csv")))]
    out = []
    for exp in exps:
        with open(exp, encoding="utf-8") as f:
            out.append((exp[: -len(".expect.json")] + ".csv", json.load(f)))
    return out


def run(corpus):
    cases = expectations(corpus)
    exps = [e for _, e in cases]
    paths = [p for p, _ in cases]
    ours_res = ours(paths)
    rows = {"kbsyncd": [0, [], 0], "csv.Sniffer": [0, [], 0], "CleverCSV": [0, [], 0]}
    for path, e in cases:
        text = sample(path)
        o = ours_res[path]
        rows["kbsyncd"][0] += right(e, text, o["delimiter"], o["enclosure"])
        rows["kbsyncd"][2] += right(e, text, o["delimiter"], e["enclosure"])
        rows["kbsyncd"][1].append(o["seconds"])
        for name, fn in (("csv.Sniffer", python_sniffer), ("CleverCSV", clever)):
            if name == "CleverCSV" and clevercsv is None:
                continue
            t0 = time.perf_counter()
            d, q = fn(text)
            rows[name][1].append(time.perf_counter() - t0)
            rows[name][0] += right(e, text, d, q)
            rows[name][2] += right(e, text, d, e["enclosure"])
    print(f"\n{corpus} ({len(exps)} files)")
    print("| sniffer | right | accuracy | delimiter only | median time per file |")
    print("| --- | --- | --- | --- | --- |")
    for name, (ok, times, dok) in rows.items():
        if not times:
            print(f"| {name} | not installed (apt-get install -y python3-clevercsv) | | | |")
            continue
        print(f"| {name} | {ok}/{len(exps)} | {100.0 * ok / len(exps):.1f}% "
              f"| {100.0 * dok / len(exps):.1f}% "
              f"| {statistics.median(times) * 1e3:.3f} ms |")


def worst_case():
    """The sniff of a full 1 MiB sample that asks for the most parses (the
    case tests/c/test_sniff.c checks the answer of): colons, commas, pipes
    and quotes on every line.  Budget (DESIGN): 20 ms."""
    import tempfile
    cap, lines, size, k = 1 << 20, [], 0, 0
    while size + 64 < cap:
        line = f'{k}:"{k % 24:02d}:{k % 60:02d}":{k % 1000},{k % 97}:Prague, CZ:x|y\n'
        lines.append(line)
        size += len(line)
        k += 1
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("".join(lines))
    try:
        out = subprocess.run([TOOL, "--repeat", "20", f.name], capture_output=True, text=True,
                             check=True).stdout
        d = json.loads(out)
        print(f"\nworst-case 1 MiB sample: {d['seconds'] * 1e3:.1f} ms per sniff (mean of 20; "
              f"budget 20 ms), delimiter {d['delimiter']!r}")
    finally:
        os.unlink(f.name)


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"{TOOL} is missing: make B={os.path.basename(BUILD)} all", file=sys.stderr)
        return 1
    for corpus in ("csv", "heldout", "public/csv-spectrum"):
        run(corpus)
    worst_case()
    return 0


if __name__ == "__main__":
    sys.exit(main())
