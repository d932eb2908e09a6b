#!/usr/bin/env python3
"""Hold the docs to the code.

- every key of lua/defaults.lua appears in docs/configuration.md and in
  config.lua.example;
- every function a host.* binding registers appears in docs/lua-api.md;
- every ERROR and WARN event the code can log appears in
  docs/troubleshooting.md;
- every `make X` the README mentions is a Makefile target.
Prints TAP."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
n = 0
failed = 0


def ok(cond, desc, detail=""):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print(("ok" if cond else "not ok"), n, "-", desc)
    if not cond and detail:
        print("#", detail)


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def config_keys():
    """Dotted key names from defaults.lua: top-level entries are indented two
    spaces, entries of a `name = { section = {` four."""
    keys, section = [], None
    for line in read("lua/defaults.lua").splitlines():
        code = line.split("--")[0]
        m = re.match(r"^( +)([a-z_0-9]+)\s*=\s*\{", code)
        if not m:
            continue
        indent, name = len(m.group(1)), m.group(2)
        if indent == 2 and "section" in code:
            section = name
        elif indent == 2:
            section = None
            keys.append(name)
        elif indent == 4 and section:
            keys.append(section + "." + name)
    return keys


def check_config():
    keys = config_keys()
    ok(len(keys) > 30, "defaults.lua parsed (%d keys)" % len(keys))
    conf = read("docs/configuration.md")
    example = read("config.lua.example")
    missing_doc = [k for k in keys if "`%s`" % k not in conf]
    ok(not missing_doc, "every config key is in docs/configuration.md", "missing: %s" % missing_doc)
    leaf = lambda k: k.split(".")[-1]
    missing_ex = [k for k in keys if not re.search(r"\b%s\s*=" % re.escape(leaf(k)), example)]
    ok(not missing_ex, "every config key is in config.lua.example", "missing: %s" % missing_ex)


def bindings():
    """(module, function) pairs from the luaL_Reg tables of the l_*.c files."""
    out = []
    for name in sorted(os.listdir(os.path.join(ROOT, "src"))):
        if not name.endswith(".c"):
            continue
        text = read("src/" + name)
        mods = re.findall(r"int luaopen_host_(\w+)\(lua_State \*L\)\s*\{", text)
        if not mods:
            continue
        regs = re.findall(r"luaL_Reg\s+\w+\[\]\s*=\s*\{(.*?)\};", text, re.S)
        for reg in regs:
            for fn in re.findall(r'\{\s*"(\w+)"\s*,', reg):
                if not fn.startswith("__"):
                    out.append((mods[0], fn))
    return out


def check_lua_api():
    api = read("docs/lua-api.md")
    pairs = bindings()
    ok(len(pairs) > 20, "bindings found (%d functions)" % len(pairs))
    missing = ["host.%s.%s" % p for p in pairs if not re.search(r"[`:.]%s[({`:\s]" % re.escape(p[1]), api)
               and "host.%s.%s" % p not in api]
    ok(not missing, "every host.* function is in docs/lua-api.md", "missing: %s" % missing)


def events():
    found = set()
    for base, _, files in os.walk(os.path.join(ROOT, "lua")):
        for f in files:
            if f.endswith(".lua"):
                text = open(os.path.join(base, f), encoding="utf-8").read()
                found |= set(re.findall(r"\blog\w*[.:](?:error|warn)\(\s*\"(\w+)\"", text))
                # the engine reports load failures as failed(kind, event, ...)
                found |= set(re.findall(r"\bfailed\(\s*\"(?:permanent|retryable|auth)\",\s*\"(\w+)\"", text))
    for f in os.listdir(os.path.join(ROOT, "src")):
        if f.endswith(".c"):
            text = read("src/" + f)
            found |= set(re.findall(r"log_event\(LOG_(?:ERROR|WARN),\s*\"(\w+)\"", text))
    return found


def check_events():
    ev = events()
    ok(len(ev) > 3, "ERROR/WARN events found (%d)" % len(ev))
    path = os.path.join(ROOT, "docs/troubleshooting.md")
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    missing = sorted(e for e in ev if "`%s`" % e not in text)
    ok(not missing, "every ERROR/WARN event is in docs/troubleshooting.md", "missing: %s" % missing)


def check_readme():
    readme = read("README.md")
    targets = set(re.findall(r"^([a-zA-Z][\w-]*):", read("Makefile"), re.M))
    used = set(re.findall(r"\bmake ([a-z][\w-]*)", readme))
    missing = sorted(used - targets)
    ok(used and not missing, "README's make commands are Makefile targets (%s)" % ", ".join(sorted(used)),
       "missing: %s" % missing)
    for script in re.findall(r"^(scripts/[\w-]+|build/kbsyncd)\b", readme, re.M):
        if script.startswith("scripts/"):
            ok(os.access(os.path.join(ROOT, script), os.X_OK), "README's %s exists and is executable" % script)


check_config()
check_lua_api()
check_events()
check_readme()
print("1..%d" % n)
sys.exit(1 if failed else 0)
