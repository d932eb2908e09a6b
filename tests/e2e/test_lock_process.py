#!/usr/bin/env python3
"""host.fs.lock between processes, as two daemons on one state_dir meet.

- A process holding the lock (`kbsyncd --exec`, waiting) keeps a second
  process out: its fs.lock returns nil, "locked" and the holder's pid, and
  fs.lock_holder names that pid.
- After SIGKILL of the holder (no chance to clean up, the lock file stays
  with its pid in it) the lock is free: lock_holder sees no holder and the
  next process takes it and writes its own pid."""
import os
import shutil
import signal
import subprocess
import tempfile

from e2elib import BIN, SLOW, Tap, on_exit, wait_until

t = Tap()
work = tempfile.mkdtemp(prefix="kbsyncd-lock-")
on_exit(lambda: shutil.rmtree(work, ignore_errors=True))
lock = os.path.join(work, "kbsyncd.lock")

holder_lua = os.path.join(work, "holder.lua")
with open(holder_lua, "w") as f:
    f.write("""local fs = require "host.fs"
local timer = require "host.timer"
local lk, err = fs.lock((...))
if not lk then io.stderr:write("holder: ", tostring(err), "\\n"); return 1 end
timer.sleep(600000)
""")
probe_lua = os.path.join(work, "probe.lua")
with open(probe_lua, "w") as f:
    f.write("""local fs = require "host.fs"
local path = ...
print("holder_before=" .. tostring(fs.lock_holder(path)))
local lk, why, pid = fs.lock(path)
print("got=" .. tostring(lk ~= nil))
print("why=" .. tostring(why))
print("pid=" .. tostring(pid))
if lk then print("file=" .. fs.read(path):gsub("\\n$", "")) end
""")


def probe():
    r = subprocess.run([BIN, "--exec", probe_lua, lock], capture_output=True, text=True,
                       timeout=30 * SLOW)
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    out["rc"] = r.returncode
    return out, r.stdout + r.stderr


holder = subprocess.Popen([BIN, "--exec", holder_lua, lock], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
on_exit(lambda: holder.poll() is None and holder.kill())


def holder_wrote_pid():
    try:
        with open(lock) as f:
            return f.read() == f"{holder.pid}\n"
    except FileNotFoundError:
        return False


t.ok(wait_until(holder_wrote_pid, 20), "the holder takes the lock and writes its pid",
     holder.poll() is not None and holder.stderr.read())

out, text = probe()
t.ok(out.get("holder_before") == str(holder.pid), "lock_holder in another process names the holder's pid", text)
t.ok(out.get("got") == "false" and out.get("why") == "locked", "a second process is refused: locked", text)
t.ok(out.get("pid") == str(holder.pid), "and told the holder's pid", text)
t.ok(holder.poll() is None, "the holder still runs")

holder.send_signal(signal.SIGKILL)
holder.wait(timeout=30 * SLOW)
with open(lock) as f:
    stale = f.read()
t.ok(stale == f"{holder.pid}\n", "after SIGKILL the lock file stays, with the dead holder's pid", stale)

out, text = probe()
t.ok(out.get("holder_before") == "nil", "a killed holder holds nothing", text)
t.ok(out.get("got") == "true", "the next process takes the lock", text)
t.ok(out.get("file", "").isdigit() and out.get("file") != str(holder.pid),
     "and writes its own pid over the stale one", text)

raise SystemExit(t.done())
