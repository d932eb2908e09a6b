#!/usr/bin/env python3
"""The held-out dialect corpus (tests/fixtures/heldout, files the sniffer
was not tuned on): what the C stager reads in each file against its
NAME.expect.json, and that both committed corpora are exactly what their
generate.py writes.

A file counts as correctly read when the delimiter, enclosure, escape and
line terminator match (for a one-column file: the header is the one
column and no record splits); a file with a quote never closed must be
refused with the line where that field starts.  Prints the accuracy and
fails below 98%.

Env: KBSYNCD_BUILD (default "build"): where tests/tool_stage is.
"""
import filecmp
import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stagetest import ROOT, TOOL, Tap  # noqa: E402

HELDOUT = os.path.join(ROOT, "tests", "fixtures", "heldout")
tap = Tap()


def load_generator(folder):
    spec = importlib.util.spec_from_file_location("gen_" + os.path.basename(folder),
                                                  os.path.join(folder, "generate.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def same_as_generated(folder):
    """Regenerates the corpus into a temp dir; lists files that differ."""
    gen = load_generator(folder)
    with tempfile.TemporaryDirectory(prefix="kbsyncd-regen-") as tmp:
        for name, data, e in gen.corpus():
            gen.write_case(tmp, name, data, e)
        made = sorted(os.listdir(tmp))
        committed = sorted(f for f in os.listdir(folder)
                           if f.endswith(".csv") or f.endswith(".expect.json"))
        diff = sorted(set(made) ^ set(committed))
        _, mismatch, errors = filecmp.cmpfiles(tmp, folder, made, shallow=False)
        return diff + mismatch + errors


def stage(path, spool=None):
    args = [TOOL, path] + ([spool] if spool else []) + ["--json"]
    p = subprocess.run(args, capture_output=True)
    return json.loads(p.stdout.decode("utf-8", "surrogateescape"))


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"not ok 1 - {TOOL} is built (make {os.path.relpath(TOOL, ROOT)})")
        print("1..1")
        return 1
    for folder in (os.path.join(ROOT, "tests", "fixtures", "csv"), HELDOUT):
        bad = same_as_generated(folder)
        tap(not bad, f"{os.path.relpath(folder, ROOT)} is what its generate.py writes"
            + (f" (differs: {bad[:5]})" if bad else ""))

    cases = sorted(glob.glob(os.path.join(HELDOUT, "*.expect.json")))
    tap(len(cases) >= 50, f"held-out corpus has {len(cases)} files (at least 50)")
    right = 0
    wrong = []
    with tempfile.TemporaryDirectory(prefix="kbsyncd-heldout-") as tmp:
        for exp in cases:
            path = exp[: -len(".expect.json")] + ".csv"
            name = os.path.basename(path)
            with open(exp, encoding="utf-8") as f:
                e = json.load(f)
            r = stage(path)
            d = r["dialect"]
            got = (d["delimiter"], d["enclosure"], d["escapedBy"], d["lineTerminator"])
            if e.get("columns") == 1:
                good = (r["header"]["raw"] == e["header"] and r["record_errors_total"] == 0
                        and r["rows"] == e["rows"] and d["enclosure"] == e["enclosure"])
            else:
                good = got == (e["delimiter"], e["enclosure"], e["escapedBy"], e["lineTerminator"])
                if e["header"] is not None and "unclosed_line" not in e:
                    good = good and r["header"]["raw"] == e["header"]
            right += good
            if not good:
                wrong.append(f"{name}: got {got!r} header {r['header']['raw'][:4]!r}")
            if "unclosed_line" in e:
                s = stage(path, os.path.join(tmp, name))
                err = s.get("error") or {}
                tap(s["status"] == "error" and err.get("code") == "quote"
                    and err.get("line") == e["unclosed_line"]
                    and not os.path.exists(os.path.join(tmp, name)),
                    f"{name}: refused, quote never closed on line {e['unclosed_line']} "
                    f"(got {err.get('code')} line {err.get('line')})")
    for w in wrong:
        print(f"# wrong: {w}")
    acc = 100.0 * right / len(cases)
    print(f"# accuracy on the held-out corpus: kbsyncd {right}/{len(cases)} = {acc:.1f}%")
    tap(acc >= 98.0, f"dialect accuracy {acc:.1f}% (at least 98%)")
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
