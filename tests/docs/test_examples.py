#!/usr/bin/env python3
"""The configs users copy must load: config.lua.example, docker/config.lua
and the README's five-line example are each validated by the real binary
(`kbsyncd inspect`, which loads and checks the config and applies the
policy to a file).  Prints TAP."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("KBSYNCD_BIN", os.path.join(ROOT, "build", "kbsyncd"))
n = failed = 0


def ok(cond, desc, diag=""):
    global n, failed
    n += 1
    failed += 0 if cond else 1
    print(("ok" if cond else "not ok"), n, "-", desc)
    if not cond:
        for line in str(diag).splitlines()[-10:]:
            print("#", line)


def readme_example():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"## Configuration in five lines\n\n```lua\n(.*?)```", text, re.S)
    return m.group(1) if m else None


work = tempfile.mkdtemp(prefix="kbsyncd-examples-")
try:
    os.makedirs(os.path.join(work, "data", "sales"))
    csv_path = os.path.join(work, "data", "sales", "orders.csv")
    with open(csv_path, "w") as f:
        f.write("id,name\n1,a\n")
    examples = {
        "config.lua.example": open(os.path.join(ROOT, "config.lua.example")).read(),
        "docker/config.lua": open(os.path.join(ROOT, "docker", "config.lua")).read(),
        "README's example": readme_example(),
    }
    for name, text in examples.items():
        ok(text is not None, f"{name} found")
        if text is None:
            continue
        cfg = os.path.join(work, "config.lua")
        with open(cfg, "w") as f:
            f.write(text)
        r = subprocess.run([BIN, "inspect", "-c", cfg, csv_path], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, KBSYNCD_CONFIG=""))
        ok(r.returncode == 0 and "sales" in r.stdout, f"{name} loads and maps a file", r.stdout + r.stderr)
finally:
    shutil.rmtree(work, ignore_errors=True)
print(f"1..{n}")
sys.exit(1 if failed else 0)
