"""Process and port helpers shared by tests/rig/up and tests/rig/down.

Every process the rig starts gets KBSYNCD_RIG_ID=<rig dir> in its
environment; `down` only signals a pid whose environment still carries that
marker, so a recycled pid is never hit.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

MARKER = "KBSYNCD_RIG_ID"


def free_port():
    """A port that was free a moment ago (for servers that cannot bind port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn(rig_dir, name, argv, extra_env=None):
    """Start argv detached from our stdio (so `eval $(up)` returns); log to NAME.log."""
    env = dict(os.environ, **(extra_env or {}))
    env[MARKER] = rig_dir
    log = open(os.path.join(rig_dir, f"{name}.log"), "ab")
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                               start_new_session=True, cwd=rig_dir)
    log.close()
    with open(os.path.join(rig_dir, f"{name}.pid"), "w") as handle:
        handle.write(f"{process.pid}\n")
    return process


def answers(url, timeout=1.0):
    """True once anything answers HTTP at url (any status counts)."""
    try:
        urllib.request.urlopen(url, timeout=timeout).read()
        return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def wait_until(condition, process, deadline_s, what):
    """Poll condition until true; fail early if the process died."""
    deadline = time.monotonic() + deadline_s
    delay = 0.02
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} while starting")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    raise RuntimeError(f"{what} did not answer within {deadline_s} s")


def log_tail(rig_dir, name, lines=30):
    try:
        with open(os.path.join(rig_dir, f"{name}.log"), "rb") as handle:
            return b"\n".join(handle.read().splitlines()[-lines:]).decode("utf-8", "replace")
    except OSError:
        return "(no log)"


def _is_ours(pid, rig_dir):
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return f"{MARKER}={rig_dir}".encode() in handle.read().split(b"\0")
    except OSError:
        return False


def _marked_processes(rig_dir):
    """Pids whose environment carries this rig's marker (covers lost pid files)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and _is_ours(int(entry), rig_dir):
            found.append(int(entry))
    return found


def stop_all(rig_dir, grace_s=5.0):
    """SIGTERM every process this rig started, SIGKILL after grace; remove pid files."""
    pids = {}
    entries = sorted(os.listdir(rig_dir)) if os.path.isdir(rig_dir) else []
    for entry in entries:
        if entry.endswith(".pid"):
            path = os.path.join(rig_dir, entry)
            with open(path) as handle:
                text = handle.read().strip()
            if text.isdigit() and _is_ours(int(text), rig_dir):
                pids[int(text)] = path
            else:
                os.unlink(path)
    for pid in _marked_processes(rig_dir):
        pids.setdefault(pid, None)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(p, rig_dir) for p in pids):
        time.sleep(0.05)
    for pid, path in pids.items():
        if _alive(pid, rig_dir):
            _signal(pid, signal.SIGKILL)
        if path:
            os.unlink(path)
    return list(pids)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid, rig_dir):
    try:
        # A zombie still has /proc/PID but no longer runs: reap it if it is our child.
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as handle:
            if handle.read().split(")")[-1].split()[0] == "Z":
                return False
    except OSError:
        return False
    return _is_ours(pid, rig_dir)


def die(message):
    sys.stderr.write(message.rstrip() + "\n")
    sys.exit(1)
