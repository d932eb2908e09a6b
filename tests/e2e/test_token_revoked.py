#!/usr/bin/env python3
"""A token revoked while the daemon runs, then valid again.

- a change made while Keboola refuses the token: one `token_rejected`
  ERROR that says what to do, loads paused (the file is kept pending, the
  table untouched), the daemon keeps running and re-checks the token every
  `auth_recheck_s`;
- the token accepted again: `token_accepted`, and the change made during
  the pause arrives without anything else happening."""
import sys

from e2elib import Daemon, Rig, Tap, wait_until

t = Tap()
rig = Rig("gcp")
d = Daemon(rig, extra="auth_recheck_s = 1,")

d.write("sales/orders.csv", "id,name\n1,a\n")
d.start()
t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "a"]], 30),
     "first version loaded", d.tail())

rig.config(revokedTokens=[rig.token])
d.write("sales/orders.csv", "id,name\n1,a\n2,b\n", atomic=True)
t.ok(d.wait_log("token_rejected", level="ERROR", timeout=30), "a refused token is an ERROR", d.tail())
first = d.log_lines("token_rejected", "ERROR")[0]
t.ok("KBC_STORAGE_API_TOKEN" in first and "retry_in_s=1" in first,
     "it says which setting to fix and when it is checked again", first)
t.ok(rig.token not in d.log(), "the token's value is not in the log")
t.ok(d.wait_log("token_rejected", count=3, timeout=30), "checked again every auth_recheck_s", d.tail())
t.ok(rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "a"]], "the table is untouched meanwhile")
st = d.status_json() or {}
t.ok("sales/orders.csv" in (st.get("pending") or []), "the change is kept pending", st.get("pending"))
t.ok(d.proc.poll() is None, "the daemon keeps running")

rig.config(revokedTokens=[])
t.ok(d.wait_log("token_accepted", timeout=30), "the token accepted again is logged", d.tail())
t.ok(wait_until(lambda: rig.table_rows("in.c-sales.orders") == [["id", "name"], ["1", "a"], ["2", "b"]], 30),
     "the change made during the pause arrives", d.tail())
code, _ = d.stop()
t.ok(code == 0, "TERM exits 0 afterwards", code)
sys.exit(t.done())
