#!/usr/bin/env python3
"""Every event docs/troubleshooting.md lists is exercised by a test, or is
named below as untestable here with the reason.

An event counts as exercised when a test file under tests/ (tests/docs and
installed packages excluded) holds its name as a string literal ("name" or
'name'): tests look events up by name in the log.  Prints TAP, one line per
event, and fails for each event neither exercised nor listed in UNTESTABLE;
an UNTESTABLE entry that some test does exercise fails too, so the list
only shrinks."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(ROOT, "tests")
SOURCE_EXT = (".py", ".lua", ".c", ".h", ".sh")
SKIP_DIRS = {"node_modules", "__pycache__"}

# event -> why it cannot be produced on this machine.
UNTESTABLE = {
    "load_failed": "an unexpected failure outside every classified one: only a bug produces it, "
                   "and the engine has no hook to inject one",
    "load_crashed": "a load task that raises: only a bug produces it, and there is no hook to inject one",
    "scheduler_callback_failed": "a bug in the code run after a load; no hook injects one",
    "signal_handler_failed": "the Lua signal handler raising is a bug; no hook injects one",
    "watch_failed": "watch_dir vanishing between the start's stat and the watcher's open "
                    "(microseconds apart), or out of memory: no reliable way to hit it",
    "watcher_failed": "the watcher's wait fails only when the watcher is closed under it; "
                      "the engine closes it only on stop",
    "watch_limit": "needs the per-user inotify limits used up (fs.inotify.max_user_watches / "
                   "max_user_instances are kernel-wide sysctls; lowering them breaks every other "
                   "process on this shared machine); tests/c/test_watch_limits.c simulates them below the log",
    "watch_add_failed": "inotify_add_watch fails for a reason other than the limit only with EACCES, "
                        "which root never gets",
    "watch_fallback_failed": "out of memory while switching to polling; cannot be provoked",
    "watch_poll_add": "out of memory while putting a folder on the poll timer; cannot be provoked",
    "watch_poll_timer": "out of memory while arming the poll timer; cannot be provoked",
    "watch_read_failed": "read() on a healthy inotify descriptor does not fail; nothing in userspace "
                         "makes it",
    "gcs_session_restart": "needs a GCS resumable session lost in mid-upload (404/410 on a chunk); "
                           "the gcp rig's emulator keeps sessions for its lifetime and has no fault "
                           "kind that answers 404/410",
    "dns_blocking": "logged only when libcurl resolves synchronously; the libcurl of this machine "
                    "(Debian's) has the threaded resolver",
}


def documented_events():
    """Event names in the first column of every table of troubleshooting.md,
    in order of appearance."""
    with open(os.path.join(ROOT, "docs", "troubleshooting.md"), encoding="utf-8") as f:
        text = f.read()
    out = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        first = line.strip().strip("|").split("|")[0]
        for name in re.findall(r"`(\w+)`", first):
            if name not in out:
                out.append(name)
    return out


def literals():
    """String literals of every test source file outside tests/docs."""
    found = set()
    for base, dirs, files in os.walk(TESTS):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and
                   os.path.join(base, d) != os.path.join(TESTS, "docs")]
        for name in files:
            if not name.endswith(SOURCE_EXT):
                continue
            with open(os.path.join(base, name), encoding="utf-8", errors="replace") as f:
                found |= set(re.findall(r"[\"'](\w+)[\"']", f.read()))
    return found


def main():
    n = failed = 0

    def ok(cond, desc, detail=None):
        nonlocal n, failed
        n += 1
        if not cond:
            failed += 1
        print(f"{'ok' if cond else 'not ok'} {n} - {desc}", flush=True)
        if not cond and detail:
            print(f"#   {detail}", flush=True)

    events = documented_events()
    ok(len(events) > 30, f"troubleshooting.md lists events ({len(events)})")
    used = literals()
    ok("header_mismatch" in used, "test sources were read (an event every suite knows is found)")
    for name in events:
        if name in UNTESTABLE:
            ok(name not in used, f"{name}: untestable here ({UNTESTABLE[name]})",
               "a test exercises it now: remove it from UNTESTABLE")
        else:
            ok(name in used, f"{name}: exercised by a test",
               "no test under tests/ names it: write one, or list it in UNTESTABLE with the reason")
    stale = sorted(set(UNTESTABLE) - set(events))
    ok(not stale, "every UNTESTABLE entry is a documented event", f"not in troubleshooting.md: {stale}")
    print(f"1..{n}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
