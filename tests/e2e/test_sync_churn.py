"""Load and trouble: 500 files created at once, a forced watcher overflow
(KBSYNCD_TEST_OVERFLOW_AFTER_MS), and a fault rate of 0.3 during churn that
must converge once the faults stop."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import Daemon, Rig, Tap, wait_until  # noqa: E402

PROVIDER = sys.argv[1] if len(sys.argv) > 1 else "gcp"
N = 500


def main():
    t = Tap()
    rig = Rig(PROVIDER)
    d = Daemon(rig, extra="max_parallel = 8,")
    d.start(KBSYNCD_TEST_OVERFLOW_AFTER_MS=4000)
    t.ok(d.wait_log("watching", timeout=20), "the daemon watches the folder", d.tail())

    # -- 500 files at once, in 5 folders
    t0 = time.monotonic()
    for i in range(N):
        d.write(f"bulk{i % 5}/t{i:03d}.csv", f"id,n\n{i},{i * i}\n")
    done = wait_until(lambda: len(rig.tables()) >= N and d.quiet(), 180, interval=0.5)
    t.ok(done, f"{N} files created at once are all loaded", d.tail())
    t.diag(f"{N} files loaded in {time.monotonic() - t0:.1f}s")
    sample = [7, 123, 499]
    t.ok(all(rig.table_rows(f"in.c-bulk{i % 5}.t{i:03d}") == [["id", "n"], [str(i), str(i * i)]] for i in sample),
         "sampled tables hold exactly their file's content")
    t.ok(rig.count("POST", r"/files/prepare$") == N, f"each file was uploaded exactly once ({rig.count('POST', r'/files/prepare$')})")

    # -- the forced overflow (4 s after start) happened and a rescan followed
    t.ok(d.wait_log("test_overflow_injected", timeout=20) and d.wait_log("rescan", timeout=20),
         "a forced watcher overflow leads to a full rescan", d.tail())
    d.write("bulk0/after_overflow.csv", "id\n1\n")
    t.ok(wait_until(lambda: rig.table_rows("in.c-bulk0.after_overflow") == [["id"], ["1"]], 30),
         "the daemon keeps converging after the overflow", d.tail())

    # -- faults at rate 0.3 during churn, then none: everything converges
    rig.faults(rate=0.3, seed=7, slowMs=300, retryAfter=1)
    last = {}
    for rnd in range(3):
        for i in range(20):
            rel = f"churn/c{i:02d}.csv"
            last[i] = f"id,round\n{i},{rnd}\n"
            d.write(rel, last[i], atomic=(i % 2 == 0))
        time.sleep(0.5)  # let each round settle into its own loads (pacing, not waiting for a result)
    rig.faults(rate=0)
    want = {i: [["id", "round"], [str(i), "2"]] for i in range(20)}
    ok = wait_until(lambda: all(rig.table_rows(f"in.c-churn.c{i:02d}") == want[i] for i in range(20)), 120,
                    interval=0.5)
    t.ok(ok, "with faults at rate 0.3 during churn, every table converges once faults stop", d.tail(60))
    t.ok(wait_until(d.quiet, 60), "nothing is left pending after convergence", d.status_json())

    rc, took = d.stop()
    t.ok(rc == 0, f"TERM exits 0 ({took:.1f}s)", d.tail())
    t.ok(not d.log_lines("task_failed"), "no task crashed", "\n".join(d.log_lines("task_failed")))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
