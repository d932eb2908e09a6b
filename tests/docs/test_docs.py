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


# Every way the code names an ERROR/WARN event.  Each pattern captures the
# expression that names the event: a literal ("x"), or a choice between
# literals (cond and "x" or "y", o.event or "x"), so events logged through
# a variable are found where their names are written: a descriptor table,
# a config warning, an outcome carrying its event.
LUA_EVENT_FORMS = {
    "log.error/log.warn call": r"\blog\w*[.:](?:error|warn)\(\s*(\"\w+\")",
    "failed(class, event, ...) in the engine": r"\bfailed\(\s*\"\w+\",\s*([^,]+),",
    "once(level, event) in the folder scan": r"\bonce\(\s*\"(?:error|warn)\",\s*(\"\w+\")",
    "{ level = ..., event = ... } descriptor":
        r"\blevel\s*=\s*\"(?:error|warn)\",\s*event\s*=\s*([^,}]+)",
    "config warning { event = ... } (logged at WARN)":
        r"\bwarnings\[#warnings\s*\+\s*1\]\s*=\s*\{\s*event\s*=\s*([^,}]+)",
    "failed outcome { status = \"failed\", ..., event = ... }":
        r"\bstatus\s*=\s*\"failed\",[^}]*?\bevent\s*=\s*([^,}]+)",
}
C_EVENT_FORMS = {
    "log_event(LOG_ERROR/LOG_WARN, ...)": r"log_event\(LOG_(?:ERROR|WARN),\s*(\"\w+\")",
}


def event_names(expr):
    """The event names an expression can take: "x" -> x; a and "x" or "y" -> x, y."""
    expr = expr.strip()
    m = re.fullmatch(r'"(\w+)"', expr)
    if m:
        return {m.group(1)}
    return set(re.findall(r'\b(?:and|or)\s+"(\w+)"', expr))


def events():
    """ERROR/WARN event names, and how many each form found."""
    found, per_form = set(), {}
    sources = []
    for base, _, files in os.walk(os.path.join(ROOT, "lua")):
        sources += [(LUA_EVENT_FORMS, os.path.join(base, f)) for f in files if f.endswith(".lua")]
    sources += [(C_EVENT_FORMS, os.path.join(ROOT, "src", f))
                for f in os.listdir(os.path.join(ROOT, "src")) if f.endswith(".c")]
    for forms, path in sources:
        text = open(path, encoding="utf-8").read()
        for form, rx in forms.items():
            names = set()
            for expr in re.findall(rx, text, re.S):
                names |= event_names(expr)
            per_form[form] = per_form.get(form, 0) + len(names)
            found |= names
    return found, per_form


def check_events():
    ev, per_form = events()
    ok(len(ev) > 3, "ERROR/WARN events found (%d)" % len(ev))
    # A form that finds nothing no longer matches how the code logs: the
    # check below would then miss events without saying so.
    for form, count in sorted(per_form.items()):
        ok(count > 0, "events logged as %s are found (%d)" % (form, count))
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
