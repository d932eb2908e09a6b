"""Shared helpers of the hostile-input, soak and security suites.

They build on tests/e2e/e2elib.py (rig, daemon, TAP, polling, cleanup on
every exit path) and add what these suites need: the naming rule of
lua/sync/names.lua in Python (the oracle for expected table ids), a CSV
oracle, log-format checks and helpers to drop privileges as root.
"""
import csv
import io
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import e2elib  # noqa: E402  (re-exported for the suites)
from e2elib import Daemon, Rig, Tap, wait_until, on_exit, SLOW, BIN  # noqa: E402,F401

# One log line: "2026-11-29T01:46:33.515Z INFO  event key=value ..."
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO|WARN|ERROR)\s+[a-z_]+( |$)")


def _clean(name: bytes, limit: int) -> str:
    s = re.sub(rb"[^A-Za-z0-9_\-]+", b"_", name)
    s = re.sub(rb"^[_\-]+", b"", s)
    s = re.sub(rb"[_\-]+$", b"", s)
    if len(s) > limit:
        s = re.sub(rb"[_\-]+$", b"", s[:limit])
    return s.decode("ascii")


def table_name(file_name):
    """lua/sync/names.lua table_name: None when nothing usable is left."""
    raw = os.fsencode(file_name)
    raw = re.sub(rb"\.[cC][sS][vV]$", b"", raw)
    return _clean(raw, 96) or None


def bucket_name(folder):
    return _clean(os.fsencode(folder), 94) or None


def table_id(folder, file_name, legacy=True):
    return f"in.{'c-' if legacy else ''}{bucket_name(folder)}.{table_name(file_name)}"


def csv_rows(text, delimiter=",", quotechar='"'):
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar)]


def bad_log_lines(text):
    """Lines of a log that do not have the documented shape (e.g. a raw
    newline from a file name split a line)."""
    return [line for line in text.splitlines() if line and not LOG_LINE.match(line)]


def no_dac_argv():
    """A prefix that runs a command as root *without* the capabilities that
    let root ignore file permissions, so chmod 000 files are unreadable even
    though the tests run as root."""
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
            "--inh-caps=-dac_override,-dac_read_search"]


def open_fds_to(pid, path):
    """How many fds of process pid point at path (follows /proc/PID/fd)."""
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target == path or target == path + " (deleted)":
                n += 1
    except OSError:
        pass
    return n
