"""The failure lifecycle users rely on (docs/engine.md, "once" and
"Failures"): `once` ends when Keboola cannot be reached, settles a file that
is being written, retries failures whose cause is outside the file, refuses
a second instance on one state_dir, prints its outcome on the terminal;
`status` tells whether a daemon runs; TERM ends a retry back-off at once;
`check` tells which folders the token cannot write."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402

PROVIDER = sys.argv[1] if len(sys.argv) > 1 else "gcp"


def once_unreachable(t, rig):
    d = Daemon(rig, extra="once_timeout_s = 3,")
    d.write("shop/items.csv", "id\n1\n")
    t0 = time.monotonic()
    r = d.once(timeout=60, KBC_STORAGE_API_HOST="http://127.0.0.1:1")
    took = time.monotonic() - t0
    t.ok(r.returncode == 4, f"once with Keboola unreachable exits 4 (rc={r.returncode})", r.stderr)
    t.ok(took < 30, f"once gives up after once_timeout_s, not never (took {took:.1f} s)")
    t.ok("cannot reach Keboola" in r.stderr and "127.0.0.1:1" in r.stderr,
         "once says why on stderr, naming the host", r.stderr)


def once_during_write(t, rig):
    d = Daemon(rig, settle_ms=1000)
    path = d.path("shop/growing.csv")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("id,v\n")
    rows = 12

    def writer():
        for i in range(rows):
            with open(path, "a") as f:
                f.write(f"{i},{i * i}\n")
            time.sleep(0.25)  # the writer's own pace, not a wait for the daemon

    w = threading.Thread(target=writer)
    w.start()
    r = d.once(timeout=120)
    w.join()
    got = rig.table_rows("in.c-shop.growing")
    t.ok(r.returncode == 0, f"once during a write exits 0 (rc={r.returncode})", r.stderr + d.tail())
    t.ok(got is not None and len(got) == rows + 1,
         f"the table holds the file as it settled: {rows} rows (got {None if got is None else len(got) - 1})",
         d.tail())


def retry_after_fixed_token(t, rig):
    d = Daemon(rig)
    d.write("perm/data.csv", "id\n1\n")
    r = d.once(KBC_STORAGE_API_TOKEN=rig.env["KBSYNCD_TOKEN_NO_MANAGE"])
    t.ok(r.returncode == 1, f"once with a token that cannot create buckets exits 1 (rc={r.returncode})",
         r.stderr + d.tail())
    t.ok("perm/data.csv" in r.stderr and "[auth]" in r.stderr,
         "the failure is reported on stderr with its class (auth)", r.stderr)
    st = d.command("status")
    t.ok("[auth]" in st.stdout and "next try" in st.stdout, "status shows the class and the next try",
         st.stdout)
    r2 = d.once()  # the file was not touched; the token is fixed
    t.ok(r2.returncode == 0, f"the next once with a fixed token loads it (rc={r2.returncode})",
         r2.stderr + d.tail())
    t.ok(rig.table_rows("in.c-perm.data") == [["id"], ["1"]], "the table is there")


def machine_failure_then_fixed(t, rig):
    d = Daemon(rig)
    d.write("disk/data.csv", "id\n1\n2\n")
    # The spool folder cannot be made: staging fails on this machine, not
    # because of the file.
    os.makedirs(d.state, exist_ok=True)
    spool = os.path.join(d.state, "spool")
    with open(spool, "w") as f:
        f.write("in the way\n")
    r = d.once()
    t.ok(r.returncode == 1, f"once with an unusable spool exits 1 (rc={r.returncode})", r.stderr + d.tail())
    t.ok("[machine]" in r.stderr, "the failure is classed machine", r.stderr)
    t.ok(any("class=machine" in x for x in d.log_lines("stage_failed", level="ERROR")),
         "logged as stage_failed with class=machine", d.tail())
    t.ok(not d.log_lines("csv_invalid"), "it is not reported as an invalid CSV", d.tail())
    os.remove(spool)
    r2 = d.once()
    t.ok(r2.returncode == 0, f"once after the cause is removed loads the unchanged file (rc={r2.returncode})",
         r2.stderr + d.tail())
    t.ok(rig.table_rows("in.c-disk.data") == [["id"], ["1"], ["2"]], "the table is there")


def disk_full_then_freed(t, rig):
    """state_dir on a 1 MB tmpfs, a 5 MB file: staging hits "No space left
    on device"; once space is there (the tmpfs grown), the next once loads
    the unchanged file."""
    import subprocess
    d = Daemon(rig)
    os.makedirs(d.state)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d.state], capture_output=True, text=True)
    if r.returncode != 0:
        t.skip("a full disk", f"mounting a tmpfs needs root: {r.stderr.strip()}")
        return
    try:
        rows = "".join(f"{i},{'x' * 40}\n" for i in range(120000))
        d.write("big/data.csv", "id,v\n" + rows)
        r = d.once()
        t.ok(r.returncode == 1, f"once with a full state_dir exits 1 (rc={r.returncode})", r.stderr + d.tail())
        t.ok("[machine]" in r.stderr and "No space left on device" in r.stderr,
             "the failure is classed machine and says the disk is full", r.stderr)
        t.ok("free space in" in r.stderr and os.path.join(d.state, "spool") in r.stderr,
             "what to do names the folder that needs space", r.stderr)
        t.ok(not d.log_lines("csv_invalid") and not d.log_lines("load_retry"),
             "not reported as an invalid CSV or a network problem", d.tail())
        subprocess.run(["mount", "-o", "remount,size=64m", d.state], check=True)
        r = d.once()
        t.ok(r.returncode == 0, f"once after space was freed loads the unchanged file (rc={r.returncode})",
             r.stderr + d.tail())
        got = rig.table_rows("in.c-big.data")
        t.ok(got is not None and len(got) == 120001, "the table holds every row")
    finally:
        subprocess.run(["umount", "-l", d.state], capture_output=True)


def one_instance_and_status(t, rig):
    d = Daemon(rig)
    d.write("lock/a.csv", "id\n1\n")
    d.start()
    t.ok(wait_until(lambda: rig.table_rows("in.c-lock.a") is not None, 30), "the daemon loads", d.tail())
    r = d.once()
    t.ok(r.returncode == 5, f"a second instance on the same state_dir exits 5 (rc={r.returncode})", r.stderr)
    t.ok(str(d.proc.pid) in r.stderr, "it names the pid that holds the state_dir", r.stderr)
    t.ok(any(f"pid={d.proc.pid}" in x for x in d.log_lines("state_dir_locked", level="ERROR")),
         "and logs state_dir_locked with the pid", d.tail())
    st = d.command("status")
    t.ok(f"running (pid {d.proc.pid})" in st.stdout, "status says the daemon is running, with its pid",
         st.stdout)
    rc, _ = d.stop()
    t.ok(rc == 0, f"the daemon stops cleanly (rc={rc})")
    st = d.command("status")
    t.ok("daemon: not running" in st.stdout, "status after stop says not running", st.stdout)
    os.remove(d.path("lock/a.csv"))
    st = d.command("status")
    t.ok("deleted locally" in st.stdout, "a deleted file is marked as deleted locally", st.stdout)
    r = d.once()
    t.ok(r.returncode == 0, f"after the daemon stopped, once runs (rc={r.returncode})", r.stderr)
    lock = os.path.join(d.state, "kbsyncd.lock")
    os.remove(lock)
    os.makedirs(lock)  # a lock that cannot be taken for another reason than a holder
    r = d.once()
    t.ok(r.returncode == 1 and "cannot lock" in r.stderr, f"an unusable lock file ends once (rc={r.returncode})",
         r.stderr)
    t.ok(d.log_lines("state_dir_unusable", level="ERROR"), "state_dir_unusable is logged", d.tail())


def term_during_backoff(t, rig):
    d = Daemon(rig, grace_s=30)
    d.write_config(grace_s=30, extra="retry = { base_ms = 20000, cap_ms = 60000 },")
    rig.faults(script=[{"method": "POST", "path": r"/files/prepare$", "kind": "503", "count": 1000}])
    try:
        d.write("slow/x.csv", "id\n1\n")
        d.start()
        t.ok(d.wait_log("http_retry", timeout=30), "the upload is in a retry back-off", d.tail())
        seen = {}

        def loading():
            seen["out"] = d.command("status").stdout
            return "loading now: slow/x.csv" in seen["out"]
        t.ok(wait_until(loading, 10), "status shows what is loading now", seen.get("out"))
        rc, took = d.stop()
        t.ok(rc == 0, f"TERM during a back-off exits 0 (rc={rc})", d.tail())
        t.ok(took < 10, f"TERM ends the back-off at once, not after shutdown_grace_s (took {took:.1f} s)")
        s = d.state_json()
        t.ok(s is not None and "slow/x.csv" in s.get("pending", {}),
             "the interrupted load is owed to the next start", str(s))
    finally:
        rig.faults(script=[], rate=0)


def check_permissions(t, rig):
    d = Daemon(rig)
    d.write("limited/a.csv", "id\n1\n")
    r = d.once()  # the master token makes in.c-limited, which the limited token may write
    t.ok(r.returncode == 0, f"the bucket of limited/ exists (rc={r.returncode})", r.stderr)
    os.makedirs(d.path("other"))
    r = d.command("check")
    t.ok(r.returncode == 0, f"check with the master token passes (rc={r.returncode})", r.stdout + r.stderr)
    e = d.env(KBC_STORAGE_API_TOKEN=rig.env["KBSYNCD_TOKEN_LIMITED"])
    import subprocess
    r = subprocess.run(d.argv("check"), env=e, capture_output=True, text=True, timeout=60)
    t.ok(r.returncode == 3, f"check with a token that cannot write a folder's bucket exits 3 (rc={r.returncode})",
         r.stdout + r.stderr)
    t.ok("other/" in r.stdout and "CANNOT CREATE" in r.stdout, "check names the folder it cannot write",
         r.stdout)
    t.ok("in.c-limited: can write" in r.stdout, "and the folder whose bucket it can write", r.stdout)
    t.ok("cannot write to the bucket of 1 folder" in r.stderr, "check says what to do", r.stderr)


def terminal_output(t, rig):
    d = Daemon(rig)
    d.write("term/a.csv", "id\n1\n")
    r = d.once("--dry-run")
    t.ok(r.returncode == 0, f"once --dry-run exits 0 (rc={r.returncode})", r.stderr)
    t.ok("would create term/a.csv -> in.c-term.a" in r.stdout,
         "--dry-run prints what it would load on the terminal, though the log goes to a file", r.stdout)
    r = d.once()
    t.ok("loaded    term/a.csv -> in.c-term.a (1 rows)" in r.stdout,
         "once prints what it loaded on the terminal", r.stdout)
    t.ok("1 loaded, 0 unchanged, 0 failed, 0 not done" in r.stdout, "once prints a total", r.stdout)


def main():
    t = Tap()
    rig = Rig(PROVIDER)
    for case in (once_unreachable, once_during_write, retry_after_fixed_token, machine_failure_then_fixed,
                 disk_full_then_freed,                 one_instance_and_status, term_during_backoff, check_permissions, terminal_output):
        t.diag(case.__name__)
        case(t, rig)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
